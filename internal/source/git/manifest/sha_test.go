package manifest

import (
	"reflect"
	"testing"
)

func TestSourceSHAs(t *testing.T) {
	const full = "4d09b7bd1c2e3f405162738495a6b7c8d9e0f1a2"
	tests := []struct {
		name string
		tag  string
		want []SHACandidate
	}{
		{"metadata-action short", "sha-4d09b7b", []SHACandidate{{"4d09b7b", PatternSHAPrefix}}},
		{"metadata-action upper case", "SHA-4D09B7B", []SHACandidate{{"4d09b7b", PatternSHAPrefix}}},
		{"metadata-action long", "sha-" + full, []SHACandidate{{full, PatternSHAPrefix}}},
		{"metadata-action all digits", "sha-1234567", []SHACandidate{{"1234567", PatternSHAPrefix}}},
		{"metadata-action too short", "sha-4d09b7", nil},
		{"metadata-action not hex", "sha-4d09b7z", nil},
		{"version and sha", "3.6.0-4d09b7bd", []SHACandidate{{"4d09b7bd", PatternVersionSHA}}},
		{"v version with pre-release", "v1.2.3-rc.1-4d09b7b", []SHACandidate{{"4d09b7b", PatternVersionSHA}}},
		{"two-part version", "1.2-4d09b7b", []SHACandidate{{"4d09b7b", PatternVersionSHA}}},
		{"version and date", "1.2.3-20240305", nil},
		{"version and build number", "1.2.3-1234567", nil},
		{"version and word", "1.25.3-alpine", nil},
		{"bitnami revision", "7.2.4-debian-12-r9", nil},
		{"git describe", "v1.2.3-5-g4d09b7b", []SHACandidate{{"4d09b7b", PatternGitDescribe}}},
		{"env sha compact UTC", "prod-4d09b7b-20240305T073303Z", []SHACandidate{{"4d09b7b", PatternEnvSHATimestamp}}},
		{"env sha unix seconds", "prod-4d09b7b-1709623983", []SHACandidate{{"4d09b7b", PatternEnvSHATimestamp}}},
		{"branch with dashes", "feature-login-4d09b7b-20240305073303", []SHACandidate{{"4d09b7b", PatternEnvSHATimestamp}}},
		{"env sha all digits", "main-1234567-1709623983", []SHACandidate{{"1234567", PatternEnvSHATimestamp}}},
		{"env sha bad month", "prod-4d09b7b-20241305073303", nil},
		{"timestamp sha", "20240305073303-4d09b7b", []SHACandidate{{"4d09b7b", PatternTimestampSHA}}},
		{"compact UTC sha", "20240305T073303Z-4d09b7b", []SHACandidate{{"4d09b7b", PatternTimestampSHA}}},
		{"unix seconds sha", "1709623983-4D09B7B", []SHACandidate{{"4d09b7b", PatternTimestampSHA}}},
		{"timestamp and number", "20240305073303-1234567", nil},
		{"full sha", full, []SHACandidate{{full, PatternFullSHA}}},
		{"full sha upper case", "4D09B7BD1C2E3F405162738495A6B7C8D9E0F1A2", []SHACandidate{{full, PatternFullSHA}}},
		{"bare short sha", "4d09b7b", []SHACandidate{{"4d09b7b", PatternShortSHA}}},
		{"bare twelve", "4D09B7BD1C2E", []SHACandidate{{"4d09b7bd1c2e", PatternShortSHA}}},
		{"bare word", "deadbeef", nil},
		{"bare number", "1234567", nil},
		{"bare thirteen", "4d09b7bd1c2e3", nil},
		{"bare six", "4d09b7", nil},
		{"semver", "1.2.3", nil},
		{"v semver", "v1.2.3", nil},
		{"latest", "latest", nil},
		{"empty", "", nil},
		{"word with variant", "stable-alpine", nil},
		{"branch and sha without timestamp", "main-4d09b7b", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SourceSHAs(tt.tag)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SourceSHAs(%q): got %v, want %v", tt.tag, got, tt.want)
			}
		})
	}
}
