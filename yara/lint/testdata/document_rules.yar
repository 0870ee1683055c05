// Rules that search people's documents for words. Every public rule here
// must be classified "document" by vigil/yara/lint (see lint_test.go).

import "magic"

rule secret_project
{
    strings:
        $a = "Operation Nightfall" nocase
        $b = "classified" nocase
    condition:
        any of them
}

rule office_codename
{
    strings:
        $body = "word/document.xml"
        $name = "Nightfall" nocase
    condition:
        uint32(0) == 0x04034B50 and $body and $name
}

rule pdf_keywords
{
    strings:
        $pdf = "%PDF-"
        $k1 = "confidential" nocase wide ascii
        $k2 = "draft budget" nocase
    condition:
        $pdf at 0 and any of ($k*)
}

rule email_mentions_person
{
    strings:
        $from = "From: John Smith"
        $addr = "john.smith@example.org" nocase
        $name = "Johnny Smith" nocase
    condition:
        any of them
}

rule wide_keyword_list
{
    strings:
        $w1 = "Nightfall" nocase ascii wide fullword
        $w2 = "Sunrise" nocase ascii wide fullword
        $w3 = "Blue Harbor" nocase ascii wide fullword
        $w4 = "informant" nocase ascii wide fullword
        $w5 = "source protection" nocase ascii wide fullword
        $w6 = "leak" nocase ascii wide fullword
    condition:
        2 of them
}

rule magic_pdf_whistleblower
{
    strings:
        $a = "whistleblower" nocase
    condition:
        magic.mime_type() == "application/pdf" and $a
}

rule old_word_document_codename
{
    strings:
        $a = "Nightfall" wide nocase
    condition:
        uint32be(0) == 0xD0CF11E0 and $a
}

rule rtf_keyword
{
    strings:
        $rtf = "{\\rtf1"
        $a = "board meeting" nocase
    condition:
        $rtf at 0 and $a
}

rule phrase_regex
{
    strings:
        $a = /operation\s+nightfall/ nocase
    condition:
        $a
}

rule cyrillic_words
{
    strings:
        $a = "ночная операция" nocase
        $b = "секретно"
    condition:
        any of them
}

rule base64_in_mail
{
    strings:
        $a = "Operation Nightfall" base64
    condition:
        $a
}

private rule codename_words
{
    strings:
        $a = "Nightfall" nocase
    condition:
        $a
}

rule uses_private_keyword_rule
{
    condition:
        codename_words
}

rule docx_by_file_name
{
    strings:
        $a = "salary" nocase
    condition:
        filename matches /\.docx?$/ and $a
}
