// Keyword or document searches the linter does NOT catch: each is
// classified "code". lint_test.go asserts that, so the list stays honest;
// doc.go explains each one.

import "hash"

rule required_meaningless_binary_pattern
{
    // A binary pattern that happens to be in the target documents (here an
    // arbitrary one) is indistinguishable from real code evidence.
    strings:
        $a = "Nightfall" nocase
        $h = { 01 02 03 04 05 06 }
    condition:
        $a and $h
}

rule code_name_with_digits
{
    // "NF2024" reads like an identifier.
    strings:
        $a = "Project NF2024"
    condition:
        $a
}

rule exact_camel_case_keyword
{
    // Without nocase, "NightFall" is taken for a code identifier.
    strings:
        $a = "NightFall"
    condition:
        $a
}

rule document_path
{
    // A path names a file rather than words in it.
    strings:
        $a = "C:\\Users\\bob\\Documents\\Nightfall"
    condition:
        $a
}

rule hash_of_a_document
{
    // Looking for one exact file by hash says nothing about its type.
    condition:
        hash.md5(0, filesize) == "0cc175b9c0f1b6a831c399e269772661"
}

rule personal_data_pattern
{
    // A number pattern (card numbers) has no words in it.
    strings:
        $card = /\b4[0-9]{12}([0-9]{3})?\b/
    condition:
        $card
}
