// A global rule constrains every rule of its namespace: a keyword global
// rule turns `condition: true` into a keyword search. The public rule here
// must be classified "document".

global private rule global_keyword_filter
{
    strings:
        $a = "Operation Nightfall" nocase
    condition:
        $a
}

rule global_keyword_filter_target
{
    condition:
        true
}
