package fxpcopy

import (
	"fmt"
	"regexp"
	"strings"
)

// Excluder decides which paths Sync leaves alone, with rsync's --exclude
// rules (rsync(1), "INCLUDE/EXCLUDE PATTERN RULES"), restricted to excludes:
//
//   - A pattern is matched against the path relative to the synced folder
//     ("dir/sub/file.txt").
//   - A pattern starting with "/" is anchored at the synced folder: "/tmp"
//     matches only the top-level tmp. Otherwise it matches the end of the
//     path at a "/" boundary: "*.iso" matches every .iso at any depth,
//     "logs/*.gz" matches a/logs/x.gz and logs/x.gz.
//   - A pattern ending in "/" matches directories only: "cache/".
//   - "*" matches any run of characters except "/", "**" matches anything
//     including "/", "?" one character except "/", "[a-z]" / "[!a-z]" a
//     class, and "\" makes the next character literal.
//   - "dir/***" matches dir itself and everything below it.
//   - An excluded directory is not entered: nothing below it is copied,
//     compared or deleted.
//   - Excluded paths on the destination are never deleted, even with
//     --delete (rsync's default; there is no --delete-excluded).
//
// Hand-written rather than a glob library: rsync's anchoring and suffix
// rules are what users expect from --exclude, and path.Match or doublestar
// match whole paths only (no "end of path" rule, no "***").
type Excluder struct {
	rules []excludeRule
}

type excludeRule struct {
	pattern string
	re      *regexp.Regexp
	dirOnly bool
}

// NewExcluder compiles rsync-style exclude patterns.
func NewExcluder(patterns []string) (*Excluder, error) {
	x := &Excluder{}
	for _, p := range patterns {
		r, err := compileExclude(p)
		if err != nil {
			return nil, err
		}
		x.rules = append(x.rules, r)
	}
	return x, nil
}

func compileExclude(p string) (excludeRule, error) {
	r := excludeRule{pattern: p}
	body := p
	if body == "" || body == "/" {
		return r, fmt.Errorf("exclude pattern %q: empty", p)
	}
	if strings.HasSuffix(body, "/") && !strings.HasSuffix(body, `\/`) {
		r.dirOnly = true
		body = strings.TrimRight(body, "/")
	}
	anchored := strings.HasPrefix(body, "/")
	body = strings.TrimLeft(body, "/")
	tripleStar := false
	if body == "***" {
		body, tripleStar = "", true
	} else if strings.HasSuffix(body, "/***") {
		body, tripleStar = strings.TrimSuffix(body, "/***"), true
	}
	re, err := globRegexp(body)
	if err != nil {
		return r, fmt.Errorf("exclude pattern %q: %w", p, err)
	}
	if tripleStar {
		if body == "" {
			re = ".*"
		} else {
			re += "(/.*)?"
		}
		r.dirOnly = false // dir/*** matches the files below dir as well
	}
	prefix := "(^|/)"
	if anchored {
		prefix = "^"
	}
	r.re, err = regexp.Compile(prefix + "(?:" + re + ")$")
	if err != nil {
		return r, fmt.Errorf("exclude pattern %q: %w", p, err)
	}
	return r, nil
}

// globRegexp translates a glob into a regular expression (no anchors).
func globRegexp(g string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch c {
		case '\\':
			if i+1 < len(g) {
				i++
				b.WriteString(regexp.QuoteMeta(g[i : i+1]))
			} else {
				b.WriteString(`\\`)
			}
		case '*':
			if i+1 < len(g) && g[i+1] == '*' {
				for i+1 < len(g) && g[i+1] == '*' {
					i++
				}
				b.WriteString(".*")
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '[':
			end := strings.IndexByte(g[i+1:], ']')
			if end == 0 && i+2 < len(g) { // "[]...]": ']' first is literal
				if e := strings.IndexByte(g[i+2:], ']'); e >= 0 {
					end = e + 1
				}
			}
			if end < 0 {
				return "", fmt.Errorf("unterminated [")
			}
			class := g[i+1 : i+1+end]
			i += end + 1
			neg := strings.HasPrefix(class, "!") || strings.HasPrefix(class, "^")
			if neg {
				class = class[1:]
			}
			b.WriteByte('[')
			if neg {
				b.WriteByte('^')
			}
			b.WriteString(strings.ReplaceAll(strings.ReplaceAll(class, `\`, `\\`), "[", `\[`))
			b.WriteByte(']')
		default:
			j := i + 1
			for j < len(g) && !strings.ContainsRune(`\*?[`, rune(g[j])) {
				j++
			}
			b.WriteString(regexp.QuoteMeta(g[i:j])) // whole runs: UTF-8 stays intact
			i = j - 1
		}
	}
	return b.String(), nil
}

// Excluded reports whether rel (relative to the synced folder, no leading
// "/") is excluded, and by which pattern. A nil Excluder excludes nothing.
func (x *Excluder) Excluded(rel string, isDir bool) (bool, string) {
	if x == nil {
		return false, ""
	}
	for _, r := range x.rules {
		if r.dirOnly && !isDir {
			continue
		}
		if r.re.MatchString(rel) {
			return true, r.pattern
		}
	}
	return false, ""
}
