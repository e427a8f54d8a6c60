package delivery

import "strings"

// NormalizeEnv returns the normalised name of a well-known environment
// (development → dev, stage → staging, production → prod; also test, qa,
// preprod, uat), and whether s names one. Sources use it so that the same
// environment has one name whichever source saw it.
func NormalizeEnv(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "dev", "development":
		return "dev", true
	case "test":
		return "test", true
	case "qa":
		return "qa", true
	case "staging", "stage":
		return "staging", true
	case "preprod":
		return "preprod", true
	case "uat":
		return "uat", true
	case "prod", "production":
		return "prod", true
	}
	return "", false
}
