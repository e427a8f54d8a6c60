package manifest

import "strings"

// Pattern names the tag convention a SHACandidate was found with.
type Pattern string

// The tag conventions SourceSHAs recognises. Hex is matched in either case;
// "timestamp" is one of YYYYMMDD, YYYYMMDDhhmm, YYYYMMDDhhmmss,
// YYYYMMDDThhmmss[Z] (UTC) or 10-digit Unix seconds.
const (
	// PatternFullSHA is a tag that is a whole 40-hex commit SHA.
	PatternFullSHA Pattern = "full-sha"
	// PatternSHAPrefix is docker/metadata-action's type=sha tag,
	// "sha-<7..40 hex>".
	PatternSHAPrefix Pattern = "sha-prefix"
	// PatternVersionSHA is "<version>-<7..40 hex>" such as "3.6.0-4d09b7bd"
	// or "v1.2.3-rc.1-4d09b7b": a version of two to four dotted numbers,
	// optionally prefixed by "v" and followed by pre-release parts, then the
	// SHA as the last dash-separated part. The SHA must contain a letter, so
	// that build numbers and dates ("1.2.3-20240305") are not taken for one.
	PatternVersionSHA Pattern = "version-sha"
	// PatternGitDescribe is git describe output used as a tag,
	// "<version>-<commits>-g<7..40 hex>" such as "v1.2.3-5-g4d09b7b".
	PatternGitDescribe Pattern = "git-describe"
	// PatternEnvSHATimestamp is "<env>-<7..40 hex>-<timestamp>" such as
	// "prod-4d09b7b-20240305T073303Z" or "main-4d09b7b-1709623983" (Flux's
	// recommended "<branch>-<sha>-<timestamp>" has the same shape). The part
	// before the SHA must start with a letter.
	PatternEnvSHATimestamp Pattern = "env-sha-timestamp"
	// PatternTimestampSHA is "<timestamp>-<7..40 hex>" such as
	// "20240305073303-4d09b7b". The SHA must contain a letter.
	PatternTimestampSHA Pattern = "timestamp-sha"
	// PatternShortSHA is a tag that is only a short SHA: 7 to 12 hex
	// characters with at least one letter and at least one digit. All-digit
	// tags are version or build numbers, and all-letter ones are words
	// ("deadbeef", "facade", "added"), so neither is taken for a SHA.
	PatternShortSHA Pattern = "short-sha"
)

// SHA lengths accepted inside tags: a short SHA has at least 7 hex digits.
const (
	minSHALen     = 7
	fullSHALen    = 40
	maxBareSHALen = 12
)

// SHACandidate is a source commit SHA found in an image tag.
type SHACandidate struct {
	// SHA is the (possibly abbreviated) commit SHA in lower-case hex.
	SHA string
	// Pattern is the tag convention that matched.
	Pattern Pattern
}

// SourceSHAs returns the source commit SHAs that tag may name, each with the
// convention that matched (see the Pattern constants), or nil. Semver-only
// tags, "latest" and other tags that follow none of the conventions give nil.
// A SHA is a candidate: callers confirm it against the source repository.
func SourceSHAs(tag string) []SHACandidate {
	if len(tag) < minSHALen {
		return nil
	}
	if len(tag) == fullSHALen && isHex(tag) {
		return one(tag, PatternFullSHA)
	}
	if len(tag) <= maxBareSHALen && isHex(tag) {
		if hasHexLetter(tag) && hasDigit(tag) {
			return one(tag, PatternShortSHA)
		}
		return nil
	}
	if len(tag) > 4 && strings.EqualFold(tag[:4], "sha-") {
		if s := tag[4:]; isSHA(s) {
			return one(s, PatternSHAPrefix)
		}
		return nil
	}

	last := strings.LastIndexByte(tag, '-')
	if last <= 0 {
		return nil
	}
	head, tail := tag[:last], tag[last+1:]

	// <env>-<sha>-<timestamp>
	if isTimestamp(tail) {
		if i := strings.LastIndexByte(head, '-'); i > 0 && isLetter(head[0]) && isSHA(head[i+1:]) {
			return one(head[i+1:], PatternEnvSHATimestamp)
		}
	}
	if !isSHA(tail) && !(len(tail) > minSHALen && (tail[0] == 'g' || tail[0] == 'G') && isSHA(tail[1:])) {
		return nil
	}
	// <timestamp>-<sha>
	if isTimestamp(head) {
		if isSHA(tail) && hasHexLetter(tail) {
			return one(tail, PatternTimestampSHA)
		}
		return nil
	}
	// <version>-<n>-g<sha>
	if tail[0] == 'g' || tail[0] == 'G' {
		if i := strings.LastIndexByte(head, '-'); i > 0 && isDigits(head[i+1:]) && isVersion(head[:i]) && isSHA(tail[1:]) {
			return one(tail[1:], PatternGitDescribe)
		}
	}
	// <version>-<sha>
	if isSHA(tail) && hasHexLetter(tail) && isVersion(head) {
		return one(tail, PatternVersionSHA)
	}
	return nil
}

// one returns a single candidate with sha in lower case.
func one(sha string, p Pattern) []SHACandidate {
	return []SHACandidate{{SHA: strings.ToLower(sha), Pattern: p}}
}

// isSHA reports whether s is 7 to 40 hex characters.
func isSHA(s string) bool {
	return len(s) >= minSHALen && len(s) <= fullSHALen && isHex(s)
}

// isVersion reports whether s is v?N.N[.N[.N]] optionally followed by
// "-" and pre-release parts made of letters, digits and dots.
func isVersion(s string) bool {
	core, pre := s, ""
	if i := strings.IndexByte(s, '-'); i >= 0 {
		core, pre = s[:i], s[i+1:]
		if pre == "" {
			return false
		}
	}
	if core != "" && (core[0] == 'v' || core[0] == 'V') {
		core = core[1:]
	}
	parts := 0
	for _, p := range strings.Split(core, ".") {
		if !isDigits(p) {
			return false
		}
		parts++
	}
	if parts < 2 || parts > 4 {
		return false
	}
	for i := 0; i < len(pre); i++ {
		if c := pre[i]; !isAlnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// isTimestamp reports whether s is a compact UTC timestamp or Unix seconds:
// YYYYMMDD, YYYYMMDDhhmm, YYYYMMDDhhmmss, YYYYMMDDThhmmss[Z] or 10 digits.
func isTimestamp(s string) bool {
	switch len(s) {
	case 8, 12, 14:
		return isDigits(s) && plausibleDate(s)
	case 10:
		return isDigits(s)
	case 15, 16:
		if s[8] != 'T' && s[8] != 't' {
			return false
		}
		if len(s) == 16 && s[15] != 'Z' && s[15] != 'z' {
			return false
		}
		return isDigits(s[:8]) && isDigits(s[9:15]) && plausibleDate(s)
	}
	return false
}

// plausibleDate reports whether s starts with a YYYYMMDD date in 1970-2199.
func plausibleDate(s string) bool {
	if s[0] != '1' && s[0] != '2' {
		return false
	}
	month := int(s[4]-'0')*10 + int(s[5]-'0')
	day := int(s[6]-'0')*10 + int(s[7]-'0')
	return month >= 1 && month <= 12 && day >= 1 && day <= 31
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func hasHexLetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; 'a' <= c && c <= 'f' {
			return true
		}
	}
	return false
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			return true
		}
	}
	return false
}

func isLetter(c byte) bool { c |= 0x20; return 'a' <= c && c <= 'z' }
