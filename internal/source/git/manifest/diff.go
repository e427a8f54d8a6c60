package manifest

import (
	"slices"
	"strconv"
	"strings"
)

// Op is the kind of a Change.
type Op int

// The kinds of change Diff reports.
const (
	// Added is a reference present only in the new version.
	Added Op = iota + 1
	// Removed is a reference present only in the old version.
	Removed
	// Updated is a reference whose Image differs between the versions.
	Updated
)

// String returns "added", "removed" or "updated".
func (o Op) String() string {
	switch o {
	case Added:
		return "added"
	case Removed:
		return "removed"
	case Updated:
		return "updated"
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// Change is a difference in one image reference between two versions of a
// file.
type Change struct {
	// Op says what happened.
	Op Op
	// Old is the reference in the old version; nil for Added.
	Old *Ref
	// New is the reference in the new version; nil for Removed.
	New *Ref
}

// Key returns the Ref.Key the change is about.
func (c Change) Key() string {
	if c.New != nil {
		return c.New.Key
	}
	if c.Old != nil {
		return c.Old.Key
	}
	return ""
}

// Diff compares the references of two versions of one file, matched by
// Ref.Key, and returns the changes sorted by key: Updated when Image differs,
// Added and Removed when a key is only on one side. References whose Image is
// the same produce nothing, even if they moved to another line. Keys are
// expected to be unique on each side, as Extract makes them; if one repeats,
// its first occurrence is used. Old and New point to copies, not into the
// arguments. Diff returns nil when nothing changed.
func Diff(oldRefs, newRefs []Ref) []Change {
	newIndex := make(map[string]int, len(newRefs))
	for i := range newRefs {
		if _, dup := newIndex[newRefs[i].Key]; !dup {
			newIndex[newRefs[i].Key] = i
		}
	}
	var changes []Change
	seen := make(map[string]bool, len(oldRefs))
	for i := range oldRefs {
		o := oldRefs[i]
		if seen[o.Key] {
			continue
		}
		seen[o.Key] = true
		j, ok := newIndex[o.Key]
		switch {
		case !ok:
			changes = append(changes, Change{Op: Removed, Old: &o})
		case newRefs[j].Image != o.Image:
			n := newRefs[j]
			changes = append(changes, Change{Op: Updated, Old: &o, New: &n})
		}
	}
	for key, j := range newIndex {
		if !seen[key] {
			n := newRefs[j]
			changes = append(changes, Change{Op: Added, New: &n})
		}
	}
	slices.SortFunc(changes, func(a, b Change) int { return strings.Compare(a.Key(), b.Key()) })
	return changes
}
