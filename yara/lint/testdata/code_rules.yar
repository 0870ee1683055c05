// Malware-hunting rules with text strings (API names, paths, URLs, command
// lines, mutexes, ransom notes inside executables, macro documents). Every
// rule here must be classified "code" (see lint_test.go).

import "pe"
import "dotnet"

rule stealer_browser_paths
{
    strings:
        $p1 = "\\Google\\Chrome\\User Data\\Default\\Login Data" ascii wide
        $p2 = "SELECT origin_url, username_value, password_value FROM logins"
        $p3 = "wallet.dat"
    condition:
        any of them
}

rule ransomware_note_in_pe
{
    strings:
        $note = "All your files have been encrypted" nocase wide
        $cmd = "vssadmin delete shadows /all /quiet"
    condition:
        uint16(0) == 0x5A4D and $note and $cmd
}

rule php_webshell
{
    strings:
        $php = "<?php"
        $eval = "eval($_POST["
    condition:
        $php and $eval
}

rule powershell_downloader
{
    strings:
        $a = "powershell -nop -w hidden -enc" nocase
        $b = "IEX (New-Object Net.WebClient).DownloadString(" nocase
    condition:
        any of them
}

rule mutex_and_c2
{
    strings:
        $m = "Global\\MsWinZonesCacheCounterMutexA"
        $u = "http://update.example.com/gate.php"
    condition:
        any of them
}

rule macro_document
{
    strings:
        $a = "AutoOpen"
        $b = "Shell"
        $c = "VBA"
    condition:
        uint32be(0) == 0xD0CF11E0 and 2 of them
}

rule pdf_exploit
{
    strings:
        $pdf = "%PDF"
        $js = "/JavaScript"
        $oa = "/OpenAction"
    condition:
        $pdf at 0 and $js and $oa
}

rule elf_bot_paths
{
    strings:
        $a = "/bin/busybox"
        $b = "/proc/self/exe"
        $c = "POST /cdn-cgi/"
    condition:
        2 of them
}

rule dotnet_stealer
{
    strings:
        $a = "Passwords" wide
    condition:
        dotnet.is_dotnet and $a
}

rule pe_imports_injection
{
    condition:
        pe.imports("kernel32.dll", "VirtualAllocEx") and pe.imports("kernel32.dll", "WriteProcessMemory")
}

rule campaign_string_in_executables
{
    strings:
        $a = "Operation Nightfall" nocase
    condition:
        uint16(0) == 0x5A4D and uint32(uint32(0x3C)) == 0x00004550 and $a
}

rule shellcode_at_entrypoint
{
    strings:
        $h = { 60 E8 00 00 00 00 5D 81 ED ?? ?? ?? ?? }
    condition:
        $h at entrypoint
}

rule api_names
{
    strings:
        $a = "VirtualAllocEx"
        $b = "CreateRemoteThread"
        $c = "kernel32.dll" nocase
    condition:
        any of them
}

rule byte_regex
{
    strings:
        $r = /\xE8.{4}\x5D\x81\xED/
    condition:
        $r
}
