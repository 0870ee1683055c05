package magic

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
)

// interp is what libmagic says about a script interpreter.
type interp struct {
	desc string // libmagic's description, with "text" where the encoding goes
	mime string
}

var (
	shellMime = "text/x-shellscript"
	bashI     = interp{"Bourne-Again shell script text executable", shellMime}
	pythonI   = interp{"Python script text executable", "text/x-script.python"}
	rubyI     = interp{"Ruby script text executable", "text/x-ruby"}
	nodeI     = interp{"Node.js script executable", "application/javascript"}
	zshI      = interp{"Paul Falstad's zsh script text executable", shellMime}
	kshI      = interp{"Korn shell script text executable", shellMime}
	cshI      = interp{"C shell script text executable", shellMime}
	tcshI     = interp{"Tenex C shell script text executable", shellMime}
	ashI      = interp{"Neil Brown's ash script text executable", shellMime}
	fishI     = interp{"fish shell script text executable", shellMime}
	awkI      = interp{"awk script text executable", "text/x-awk"}
	gawkI     = interp{"GNU awk script text executable", "text/x-gawk"}
	nawkI     = interp{"new awk script text executable", "text/x-nawk"}
	phpI      = interp{"PHP script text executable", "text/x-php"}
)

// shebangPaths maps interpreter paths (as prefixes, like libmagic's string
// tests) to descriptions. Order matters: longer paths first where one is
// a prefix of another.
var shebangPaths = []struct {
	path string
	in   interp
}{
	{"/bin/sh", interp{"POSIX shell script text executable", shellMime}},
	{"/bin/bash", bashI}, {"/usr/bin/bash", bashI}, {"/usr/local/bin/bash", bashI}, {"/usr/local/bash", bashI},
	{"/bin/zsh", zshI}, {"/usr/bin/zsh", zshI}, {"/usr/local/bin/zsh", zshI},
	{"/bin/ksh", kshI}, {"/usr/bin/ksh", kshI}, {"/usr/local/bin/ksh", kshI},
	{"/bin/csh", cshI}, {"/usr/bin/csh", cshI}, {"/usr/local/bin/csh", cshI},
	{"/bin/tcsh", tcshI}, {"/usr/bin/tcsh", tcshI}, {"/usr/local/bin/tcsh", tcshI}, {"/usr/local/tcsh", tcshI},
	{"/bin/ash", ashI}, {"/usr/bin/ash", ashI}, {"/usr/local/bin/ash", ashI},
	{"/usr/bin/fish", fishI}, {"/usr/local/bin/fish", fishI},
	{"/bin/gawk", gawkI}, {"/usr/bin/gawk", gawkI}, {"/usr/local/bin/gawk", gawkI},
	{"/bin/nawk", nawkI}, {"/usr/bin/nawk", nawkI}, {"/usr/local/bin/nawk", nawkI},
	{"/bin/awk", awkI}, {"/usr/bin/awk", awkI},
	{"/usr/bin/python", pythonI}, {"/usr/local/bin/python", pythonI},
	{"/usr/bin/ruby", rubyI}, {"/usr/local/bin/ruby", rubyI},
	{"/usr/bin/node", nodeI}, {"/bin/nodejs", nodeI},
	{"/usr/bin/php", phpI}, {"/usr/local/bin/php", phpI},
	{"/usr/bin/tclsh", interp{"Tcl/Tk script text executable", "text/x-tcl"}},
	{"/usr/bin/env bash", bashI}, {"/usr/bin/env zsh", zshI}, {"/usr/bin/env fish", fishI},
	{"/usr/bin/env python", pythonI}, {"/usr/bin/env ruby", rubyI},
	{"/usr/bin/env nodejs", nodeI}, {"/usr/bin/env node", nodeI},
	{"/usr/bin/env tclsh", interp{"Tcl script text executable", "text/x-tcl"}},
}

// perlShebang is libmagic's Perl test, which it reports without encoding.
var perlShebang = &lazyRegexp{src: `^#!.*/bin/perl`}

// lazyRegexp is a regexp compiled when first used: most programs that
// link this package never classify text, and compiling every pattern at
// start-up cost each of them time and memory.
type lazyRegexp struct {
	src  string
	once sync.Once
	re   *regexp.Regexp
}

// Match reports whether b contains a match of the regexp.
func (l *lazyRegexp) Match(b []byte) bool {
	l.once.Do(func() { l.re = regexp.MustCompile(l.src) })
	return l.re.Match(b)
}

// shebang recognizes a "#!" line as libmagic does.
func shebang(b []byte) (textKind, bool) {
	if !bytes.HasPrefix(b, []byte("#!")) {
		return textKind{}, false
	}
	line := b
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = line[:min(len(line), maxRegex)]
	if perlShebang.Match(line) || bytes.HasPrefix(bytes.TrimLeft(line[2:], " \t"), []byte("/usr/bin/env perl")) {
		return textKind{desc: "Perl script text executable", mime: "text/x-perl", verbatim: true}, true
	}
	rest := strings.TrimLeft(string(line[2:]), " \t")
	for _, p := range shebangPaths {
		if strings.HasPrefix(rest, p.path) {
			return textKind{desc: p.in.desc, mime: p.in.mime}, true
		}
	}
	if rest != "" {
		prog := strings.TrimSpace(rest)
		if env, ok := strings.CutPrefix(prog, "/usr/bin/env "); ok {
			prog = strings.TrimSpace(env)
		}
		if len(prog) > 64 {
			prog = prog[:64]
		}
		return textKind{desc: "a " + prog + " script text executable"}, true
	}
	return textKind{}, false
}

// A linePattern is one of libmagic's text tests: an optional literal that
// must occur in the first maxRegex bytes, then a line regexp.
type linePattern struct {
	literal string
	re      *lazyRegexp
	kind    textKind
}

var (
	cKind      = textKind{desc: "C source text", mime: "text/x-c"}
	cppKind    = textKind{desc: "C++ source text", mime: "text/x-c++"}
	pyKind     = textKind{desc: "Python script text executable", mime: "text/x-script.python"}
	pyKindNoMT = textKind{desc: "Python script text executable"}
	htmlKind   = textKind{desc: "HTML document text", mime: "text/html"}
	jsKind     = textKind{desc: "JavaScript source text", mime: "application/javascript"}
	asmKind    = textKind{desc: "assembler source text", mime: "text/x-asm"}
	rubyKind   = textKind{desc: "Ruby script text", mime: "text/x-ruby"}
	podKind    = textKind{desc: "Perl POD document text"}
	troffKind  = textKind{desc: "troff or preprocessor input text", mime: "text/troff"}
	sgmlKind   = textKind{desc: "exported SGML document text"}
)

func re(s string) *lazyRegexp { return &lazyRegexp{src: "(?m)" + s} }

// linePatterns are tried in order, approximating libmagic's strength order.
var linePatterns = []linePattern{
	{"", re(`^export (function|class|default|const|var|let|async) `), jsKind},
	{"", re(`^(const|var|let).*=.*require\(`), jsKind},
	{"", re(`^(import|export).* from `), jsKind},
	{"", re(`module(\.|\[["'])exports.*=`), jsKind},
	{"package", re(`^package[ \t]+[0-9A-Za-z_:]+ *;`), textKind{desc: "Perl5 module source text"}},
	{"", re(`^(import|export) ["']\./`), jsKind},
	{"", re(`\((async )?function[( ]`), jsKind},
	{"", re(`"use strict"|'use strict'`), jsKind},
	{"using", re(`^using[[:space:]]+(namespace )?std(::)?[[:alpha:]]*[[:space:]]*;`), cppKind},
	{"namespace", re(`^namespace[[:space:]]+[_[:alpha:]]{1,30}[[:space:]]*\{`), cppKind},
	{"protected", re(`^[[:space:]]*protected:`), cppKind},
	{"<?php", nil, textKind{desc: "PHP script text", mime: "text/x-php"}},
	{"template", re(`^[[:space:]]*template[[:space:]]*<.*>[[:space:]]*$`), cppKind},
	{"", re(`^require\(["']`), jsKind},
	{"", re(`typeof.*[!=]==`), jsKind},
	{"virtual", re(`^[[:space:]]*virtual[[:space:]]+.*[};][[:space:]]*$`), cppKind},
	{"private", re(`^[[:space:]]*private:`), cppKind},
	{"public", re(`^[[:space:]]*public:`), cppKind},
	{"\\documentclass", nil, textKind{desc: "LaTeX 2e document text", mime: "text/x-tex"}},
	{"def __init__", re(`def __init__[\s\S]{0,64}self`), pyKind},
	{"if __name__", re(`if __name__[\s\S]*"__main__"`), pyKind},
	{"if __name__", re(`if __name__[\s\S]*'__main__'`), pyKindNoMT},
	{"class", re(`^class [_[:alpha:]]+(\(.*\))?( )*:([ \t]+pass)?$`), pyKind},
	{"try:", re(`try:[\s\S]*^[[:space:]]*except.*:$`), pyKind},
	{"try:", re(`try:[\s\S]*finally:`), pyKind},
	{"def ", re(`^[[:space:]]{0,50}def {1,50}[_a-zA-Z]{1,100}\(([[:alpha:]*_, ]){0,255}\):$`), pyKind},
	{"", re(`(?i)<script[ >]|<a href=|<title[ >]|<style[ >]|<table[ >]`), htmlKind},
	{"#include", re(`^#include`), cKind},
	{"", re(`^(CFLAGS|VPATH|LDFLAGS|all:|\.PRECIOUS)`), textKind{desc: "makefile script text", mime: "text/x-makefile"}},
	{"import", re(`^from[ \t]+([A-Za-z0-9_]|\.)+[ \t]+import.*$`), pyKind},
	{"", re(`(?i)<head[ >]|<html[ >]`), htmlKind},
	{"", re(`^#[[:space:]]*(if|ifn)def[\s\S]*^#[[:space:]]*endif$`), cKind},
	{"float", re(`^[[:space:]]*float( \*|\*)(.+)(=.*)?;[[:space:]]*$`), cKind},
	{"union", re(`^union[[:space:]]+`), cKind},
	{"=encoding ", re(`^=encoding `), podKind},
	{"=pod", re(`^=pod`), podKind},
	{"char", re(`^[[:space:]]*char( \*|\*)(.+)(=.*)?;[[:space:]]*$`), cKind},
	{"", re(`^[ \t]{0,50}\.asciiz`), asmKind},
	{"BEGIN", re(`^[ \t\n]{0,100}BEGIN[ \t\n]{0,100}[{]`), textKind{desc: "awk or perl script text"}},
	{"=head", re(`^=head[12] `), podKind},
	{"", re(`^[ \t]{0,50}\.globl`), asmKind},
	{"pragma", re(`^#[[:space:]]*pragma`), cKind},
	{"", re(`^#[[:space:]]*(if|ifn)def[\s\S]*^#[[:space:]]*define`), cKind},
	{"double", re(`^[[:space:]]*double( \*|\*)(.+)(=.*)?;[[:space:]]*$`), cKind},
	{"extern", re(`^[[:space:]]*extern[[:space:]]+`), cKind},
	{"struct", re(`^struct[[:space:]]+`), cKind},
	{"import", re(`^import [_[:alpha:]]+ as [[:alpha:]][[:space:]]*$`), pyKind},
	{"", re(`^[ \t]{0,50}\.(byte|even|text|file|type)`), asmKind},
	{"require", re(`^[[:space:]]*require[[:space:]]'[A-Za-z_/.]+'`), rubyKind},
}

// pemKinds are the PEM armour headers libmagic names.
var pemKinds = []struct{ prefix, desc string }{
	{"-----BEGIN CERTIFICATE-----", "PEM certificate"},
	{"-----BEGIN CERTIFICATE REQ", "PEM certificate request"},
	{"-----BEGIN RSA PRIVATE", "PEM RSA private key"},
	{"-----BEGIN DSA PRIVATE", "PEM DSA private key"},
	{"-----BEGIN EC PRIVATE", "PEM EC private key"},
	{"-----BEGIN ECDSA PRIVATE", "PEM ECDSA private key"},
}

// isBatch reports whether lower (the lowercased bytes after a leading
// '@') starts a DOS batch file as libmagic sees it.
func isBatch(lower []byte) bool {
	for _, p := range []string{" echo off", "echo off", "rem", "set "} {
		if bytes.HasPrefix(lower, []byte(p)) {
			return true
		}
	}
	return false
}

// troffRequest is a troff request on the first line, such as ".TH".
var troffRequest = &lazyRegexp{src: `^\.[A-Za-z][A-Za-z0-9]([ \t]|$)`}

// firstLine returns b up to its first newline.
func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

// textPatterns finds what kind of text b is, if libmagic would say.
func textPatterns(b []byte) (textKind, bool) {
	if k, ok := shebang(b); ok {
		return k, true
	}
	for _, p := range pemKinds {
		if bytes.HasPrefix(b, []byte(p.prefix)) {
			return textKind{desc: p.desc, verbatim: true}, true
		}
	}
	head := b[:min(len(b), maxRegex)]
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	lower := bytes.ToLower(trimmed[:min(len(trimmed), 64)])
	switch {
	case bytes.HasPrefix(b, []byte("<?xml")):
		if bytes.Contains(head, []byte("<svg")) {
			return textKind{desc: "SVG Scalable Vector Graphics image", mime: "image/svg+xml", verbatim: true}, true
		}
		if at(b, 5, " version=\"") || at(b, 5, " version='") || at(b, 5, " version \"") {
			return textKind{desc: "XML " + cstringN(b, 15, 3) + " document text", mime: "text/xml"}, true
		}
		return textKind{desc: "XML document text", mime: "text/xml"}, true
	case bytes.HasPrefix(trimmed, []byte("<svg")):
		return textKind{desc: "SVG Scalable Vector Graphics image", mime: "image/svg+xml", verbatim: true}, true
	case bytes.HasPrefix(lower, []byte("<!doctype html")), bytes.HasPrefix(lower, []byte("<html")):
		return htmlKind, true
	case bytes.HasPrefix(b, []byte(`"""`)):
		return pyKindNoMT, true
	case bytes.HasPrefix(b, []byte("%!PS-Adobe-")) && !bytes.HasPrefix(b[11:], []byte("3.0 Resource-")):
		d := "PostScript document text conforming DSC level " + cstringN(b, 11, 3)
		if at(b, 14, " EPSF-") {
			d += ", type EPS"
		}
		return textKind{desc: d, mime: "application/postscript", verbatim: true}, true
	case (bytes.HasPrefix(b, []byte("diff ")) || bytes.HasPrefix(b, []byte("--- "))) &&
		bytes.Contains(head, []byte("\n+++ ")) && bytes.Contains(head, []byte("\n@@ ")):
		return textKind{desc: "unified diff output text", mime: "text/x-diff"}, true
	case bytes.Contains(b[:min(len(b), 80)], []byte(".la - a libtool library file")):
		return textKind{desc: "libtool library file text"}, true
	case len(b) > 1 && b[0] == '@' && isBatch(bytes.ToLower(b[1:min(len(b), 10)])):
		return textKind{desc: "DOS batch file text", mime: "text/x-msdos-batch"}, true
	case bytes.HasPrefix(b, []byte("From:")), bytes.HasPrefix(b, []byte("Date:")):
		return textKind{desc: "news or mail text", mime: "message/rfc822"}, true
	case bytes.HasPrefix(b, []byte(`.\"`)), bytes.HasPrefix(b, []byte(`'\"`)), bytes.HasPrefix(b, []byte(`'.\"`)),
		troffRequest.Match(firstLine(b)):
		return troffKind, true
	}
	for _, p := range linePatterns {
		if p.literal != "" && !bytes.Contains(head, []byte(p.literal)) {
			continue
		}
		if p.re == nil || p.re.Match(head) {
			return p.kind, true
		}
	}
	switch {
	case bytes.HasPrefix(lower, []byte("<!doctype")), bytes.HasPrefix(b, []byte("<!--")):
		return sgmlKind, true
	}
	return textKind{}, false
}
