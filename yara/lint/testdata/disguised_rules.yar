// Keyword searches dressed up to look like malware rules. Every public rule
// here must still be classified "document" (see lint_test.go for what each
// one tries).

import "pe"

rule filesize_bound
{
    strings:
        $a = "Operation Nightfall" nocase
    condition:
        filesize < 10MB and $a
}

rule optional_hex
{
    strings:
        $a = "Operation Nightfall" nocase
        $h = { 4D 5A 90 00 03 00 00 00 04 00 00 00 FF FF }
    condition:
        any of them
}

rule words_in_hex
{
    strings:
        $h = { 4E 69 67 68 74 66 61 6C 6C }
    condition:
        $h
}

rule words_in_hex_with_case_and_jump
{
    strings:
        $h = { (4E | 6E) 69 67 68 74 [0-1] 66 61 6C 6C }
    condition:
        $h
}

rule words_in_utf16_hex
{
    strings:
        $h = { 4E 00 69 00 67 00 68 00 74 00 66 00 61 00 6C 00 6C 00 }
    condition:
        $h
}

rule required_junk_hex
{
    strings:
        $a = "Nightfall" nocase
        $z = { 00 00 00 00 }
    condition:
        $a and $z
}

rule optional_pe_check
{
    strings:
        $a = "Nightfall" nocase
    condition:
        uint16(0) == 0x5A4D or $a
}

rule negated_pe_check
{
    strings:
        $a = "Nightfall" nocase
    condition:
        $a and not uint16(0) == 0x5A4D
}

rule double_negation
{
    strings:
        $a = "Nightfall" nocase
        $b = "Sunrise" nocase
    condition:
        not not $a or not (none of ($b))
}

rule optional_pe_module
{
    strings:
        $a = "Nightfall" nocase
    condition:
        $a and (pe.is_pe or true)
}

rule count_and_size
{
    strings:
        $a = "Nightfall" nocase
    condition:
        #a > 0 and filesize < 5MB
}

rule n_of_mixed
{
    strings:
        $h1 = { E8 ?? ?? ?? ?? 5D 81 ED }
        $h2 = { 64 A1 30 00 00 00 8B 40 0C }
        $w1 = "Nightfall" nocase
        $w2 = "Sunrise" nocase
        $w3 = "Blue Harbor" nocase
    condition:
        3 of them
}

rule for_of_loop
{
    strings:
        $k1 = "Nightfall" nocase
        $k2 = "Sunrise" nocase
    condition:
        for any of ($k*) : ( $ )
}

rule camel_case_with_nocase
{
    strings:
        $a = "nightFall" nocase
    condition:
        $a
}

rule zip_magic_in_hex
{
    strings:
        $zip = { 50 4B 03 04 }
        $a = "Nightfall" nocase
    condition:
        $zip at 0 and $a
}

rule optional_entrypoint
{
    strings:
        $a = "Nightfall" nocase
        $h = { 55 8B EC 83 EC 40 53 56 57 }
    condition:
        $h at entrypoint or $a at 0
}

rule regex_with_wildcards
{
    strings:
        $a = /N.ght.all/
    condition:
        $a
}

rule required_pdf_structure
{
    // Every PDF has these; they are document structure, not code.
    strings:
        $a = "Nightfall" nocase
        $c = "/Type /Catalog"
        $e = "endobj"
    condition:
        $a and $c and $e
}

rule keyword_in_regex_alternation
{
    strings:
        $a = /(Nightfall|Sunrise|Blue Harbor)/ nocase
    condition:
        $a
}
