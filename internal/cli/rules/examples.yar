// Vigil's built-in example rules, used by `vigil scan --builtin-rules`.
// They show the rule language on things found on most machines and are
// safe to run anywhere: nothing here looks for personal documents.

rule EICAR_Test_File : test
{
    meta:
        description = "The EICAR anti-malware test file (harmless by design)"
        author = "Vigil"
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $eicar at 0 and filesize < 200
}

rule ELF_Executable : format
{
    meta:
        description = "ELF executable or shared object"
    condition:
        uint32(0) == 0x464C457F and (uint16(16) == 2 or uint16(16) == 3)
}

rule PE_Executable : format
{
    meta:
        description = "Windows PE file (MZ header pointing at a PE signature)"
    condition:
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550
}

rule MachO_Binary : format
{
    meta:
        description = "Mach-O binary, 32 or 64 bit, either byte order, or universal"
    condition:
        uint32(0) == 0xFEEDFACE or uint32(0) == 0xFEEDFACF or
        uint32be(0) == 0xFEEDFACE or uint32be(0) == 0xFEEDFACF or
        uint32be(0) == 0xCAFEBABE
}

rule Pipe_To_Shell : script
{
    meta:
        description = "Downloads a script and pipes it into a shell"
    strings:
        $curl = /curl[^\n|]{1,200}\|\s*(sudo\s+)?(ba|z|da)?sh\b/
        $wget = /wget[^\n|]{1,200}\|\s*(sudo\s+)?(ba|z|da)?sh\b/
    condition:
        any of them
}

rule UPX_Packed : packer
{
    meta:
        description = "Executable packed with UPX"
    strings:
        $upx0 = "UPX0" fullword
        $upx1 = "UPX1" fullword
        $sig = "UPX!"
    condition:
        (uint16(0) == 0x5A4D or uint32(0) == 0x464C457F) and $sig and
        (#upx0 > 0 or #upx1 > 0 or $sig in (0..1024))
}

rule Base64_Encoded_PE : suspicious
{
    meta:
        description = "An MZ/DOS-stub header hidden as base64 text"
    strings:
        $stub = "This program cannot be run in DOS mode" base64 base64wide
    condition:
        $stub
}

rule XOR_Obfuscated_DOS_Stub : suspicious
{
    meta:
        description = "A DOS stub string xor-encoded with a one-byte key"
    strings:
        $stub = "This program cannot be run in DOS mode" xor(1-255)
    condition:
        $stub
}
