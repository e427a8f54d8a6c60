package efficiency

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// isFeatTitle replaces a regular expression: it must match the same titles.
func TestFeatTitleMatchesItsExpression(t *testing.T) {
	re := regexp.MustCompile(`^\s*(?i:feat)(\([^)]*\))?!?:`)
	cases := []string{"feat: x", "FEAT: x", " \tfeat(ui)!: x", "feat!: x", "feat(ui: x", "feat(ui)x: y", "feature: x", "fix: x", "",
		"feat", "feat(", "feat()", "feat():", "\nfeat:", "feat(a)(b): x", "feat(a\n): x", "x feat: y", "Feat(scope)!:"}
	rng := rand.New(rand.NewPCG(1, 1))
	alphabet := []byte("fFeEaAtT():! \t\nx")
	for range 20000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		if got, want := isFeatTitle(c), re.MatchString(c); got != want {
			t.Fatalf("isFeatTitle(%q) = %v, the expression says %v", c, got, want)
		}
	}
}
