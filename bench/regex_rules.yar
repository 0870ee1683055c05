// Generic regular-expression rules of the kind public rule sets carry
// (indicators such as URLs, addresses, keys and encoded blobs). Written
// for Vigil's benchmarks (bench/regex.sh): they have few or no literal
// atoms, so they stress the regex engine rather than the automaton.

rule gen_url_http { strings: $a = /https?:\/\/[a-zA-Z0-9.-]{3,64}(\/[a-zA-Z0-9._~%\/-]*)?/ condition: $a }
rule gen_url_wide { strings: $a = /https?:\/\/[a-z0-9.]{4,40}/ wide condition: $a }
rule gen_url_ftp { strings: $a = /ftp:\/\/[^\s\/]{3,64}/ condition: $a }
rule gen_domain_common { strings: $a = /[a-z0-9-]{2,63}\.(com|net|org|info|biz)\b/ nocase condition: $a }
rule gen_domain_suspicious { strings: $a = /\b[a-z0-9]{4,30}\.(ru|cn|su|top|xyz)\b/ condition: $a }
rule gen_onion { strings: $a = /[a-z2-7]{16,56}\.onion/ condition: $a }
rule gen_ipv4 { strings: $a = /\b([0-9]{1,3}\.){3}[0-9]{1,3}\b/ condition: $a }
rule gen_ipv4_port { strings: $a = /([0-9]{1,3}\.){3}[0-9]{1,3}:[0-9]{2,5}/ condition: $a }
rule gen_email { strings: $a = /[a-zA-Z0-9._%+-]{1,64}@[a-zA-Z0-9.-]{2,63}\.[a-zA-Z]{2,6}/ condition: $a }
rule gen_base64_blob { strings: $a = /[A-Za-z0-9+\/]{40,}={0,2}/ condition: $a }
rule gen_base64_padded { strings: $a = /[A-Za-z0-9+\/]{60,200}==/ condition: $a }
rule gen_bitcoin_legacy { strings: $a = /\b[13][a-km-zA-HJ-NP-Z1-9]{25,34}\b/ condition: $a }
rule gen_bitcoin_bech32 { strings: $a = /bc1[a-z0-9]{39,59}/ condition: $a }
rule gen_ethereum { strings: $a = /0x[a-fA-F0-9]{40}/ condition: $a }
rule gen_monero { strings: $a = /4[0-9AB][1-9A-HJ-NP-Za-km-z]{93}/ condition: $a }
rule gen_hex_blob { strings: $a = /[0-9a-fA-F]{64,}/ condition: $a }
rule gen_hex_escaped { strings: $a = /(\\x[0-9a-fA-F]{2}){16,}/ condition: $a }
rule gen_md5 { strings: $a = /\b[a-f0-9]{32}\b/ condition: $a }
rule gen_sha256 { strings: $a = /\b[a-f0-9]{64}\b/ condition: $a }
rule gen_win_exe_path { strings: $a = /[a-zA-Z]:\\[a-zA-Z0-9_ .\\]{4,100}\.exe/ nocase condition: $a }
rule gen_run_key { strings: $a = /Software\\Microsoft\\Windows\\CurrentVersion\\Run(Once)?/ nocase condition: $a }
rule gen_powershell_enc { strings: $a = /powershell(\.exe)?\s+-[eE][a-zA-Z]*\s+[A-Za-z0-9+\/=]{20,}/ nocase condition: $a }
rule gen_user_agent { strings: $a = /Mozilla\/[45]\.0 \([^)]{5,100}\)/ condition: $a }
rule gen_telegram_token { strings: $a = /[0-9]{8,10}:[a-zA-Z0-9_-]{35}/ condition: $a }
rule gen_discord_webhook { strings: $a = /discord(app)?\.com\/api\/webhooks\/[0-9]{17,20}\/[A-Za-z0-9_-]{60,70}/ condition: $a }
rule gen_paste_site { strings: $a = /(pastebin\.com|paste\.ee|hastebin\.com)\/(raw\/)?[A-Za-z0-9]{6,10}/ condition: $a }
rule gen_jwt { strings: $a = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/ condition: $a }
rule gen_aws_key { strings: $a = /(AKIA|ASIA)[0-9A-Z]{16}/ condition: $a }
rule gen_private_key { strings: $a = /-----BEGIN (RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----/ condition: $a }
rule gen_mac_address { strings: $a = /([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}/ condition: $a }
