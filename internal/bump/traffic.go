package bump

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KnativeService is a Knative Service found in a manifest file.
type KnativeService struct {
	Name string `json:"name"`
	Line int    `json:"line"` // of its spec key
	// TemplateName is spec.template.metadata.name, the name the next
	// revision gets; "" when Knative generates revision names
	// (<service>-00001, …).
	TemplateName string `json:"template_name,omitempty"`
	Traffic      bool   `json:"traffic"` // spec.traffic is set
}

// ErrNoKnativeService means the file holds no Knative Service.
var ErrNoKnativeService = errors.New("no Knative Service")

// LatestTag is the tag under which a traffic pin keeps the latest revision
// reachable, with no share of the traffic: Knative gives a tagged target
// its own address (latest-<service>.<namespace>.<domain>).
const LatestTag = "latest"

// TrafficPin says which revision gets all of a Knative Service's traffic.
type TrafficPin struct {
	Revision string // the revision to send 100 % of the traffic to
	Service  string // when the file holds several Knative Services: the one to pin
}

// A Kubernetes object name that is a DNS label: what Knative revision
// names are.
var revisionName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

type knService struct {
	KnativeService
	root     *yaml.Node // the document's mapping
	specKey  *yaml.Node
	spec     *yaml.Node
	trafKey  *yaml.Node // nil without spec.traffic
	trafNode *yaml.Node
}

// KnativeServices lists the Knative Services (serving.knative.dev) of a
// manifest file, in file order.
func KnativeServices(path string, content []byte) ([]KnativeService, error) {
	svcs, err := knativeServices(path, content)
	if err != nil {
		return nil, err
	}
	out := make([]KnativeService, len(svcs))
	for i, s := range svcs {
		out[i] = s.KnativeService
	}
	return out, nil
}

func knativeServices(file string, content []byte) ([]knService, error) {
	if bytes.Contains(content, []byte("{{")) {
		return nil, fmt.Errorf("%s: a Helm template: set the traffic through the chart's values instead", file)
	}
	var out []knService
	dec := yaml.NewDecoder(bytes.NewReader(content))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		root := doc.Content[0]
		if !strings.HasPrefix(scalar(get(root, "apiVersion")), "serving.knative.dev/") || scalar(get(root, "kind")) != "Service" {
			continue
		}
		s := knService{root: root}
		s.Name = scalar(path(root, "metadata", "name"))
		s.specKey, s.spec = pair(root, "spec")
		if s.specKey != nil {
			s.Line = s.specKey.Line
		}
		s.TemplateName = scalar(path(s.spec, "template", "metadata", "name"))
		s.trafKey, s.trafNode = pair(s.spec, "traffic")
		s.Traffic = s.trafKey != nil
		out = append(out, s)
	}
	return out, nil
}

// pair returns the key node and value node of key in mapping m.
func pair(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// PinTraffic returns content with the Knative Service's spec.traffic set to
// send 100 % of the traffic to pin.Revision and 0 % to the latest revision,
// tagged LatestTag so that it stays reachable:
//
//	traffic:
//	- revisionName: <revision>
//	  percent: 100
//	- latestRevision: true
//	  percent: 0
//	  tag: latest
//
// An existing spec.traffic block is replaced, lines and all; else the block
// is added at the end of spec. The block follows the file's indentation
// (spec's keys, and how sequences sit under their keys); every other byte
// of the file stays as it was. It returns the Service pinned, as it was
// before the edit.
func PinTraffic(path string, content []byte, pin TrafficPin) ([]byte, KnativeService, error) {
	if !revisionName.MatchString(pin.Revision) {
		return nil, KnativeService{}, fmt.Errorf("%q is not a Knative revision name", pin.Revision)
	}
	svcs, err := knativeServices(path, content)
	if err != nil {
		return nil, KnativeService{}, err
	}
	if len(svcs) == 0 {
		return nil, KnativeService{}, fmt.Errorf("%s: %w", path, ErrNoKnativeService)
	}
	s := svcs[0]
	if len(svcs) > 1 {
		i := slices.IndexFunc(svcs, func(s knService) bool { return s.Name == pin.Service })
		if i < 0 {
			var names []string
			for _, s := range svcs {
				names = append(names, s.Name)
			}
			return nil, KnativeService{}, fmt.Errorf("%s holds the Knative Services %s, none named %q", path, strings.Join(names, ", "), pin.Service)
		}
		s = svcs[i]
	}
	where := fmt.Sprintf("%s: Knative Service %s", path, s.Name)
	if s.spec == nil || s.spec.Kind != yaml.MappingNode || s.spec.Style&yaml.FlowStyle != 0 || len(s.spec.Content) == 0 {
		return nil, KnativeService{}, fmt.Errorf("%s: spec is not a block mapping: cannot add spec.traffic", where)
	}
	lines := bytes.SplitAfter(content, []byte("\n"))
	eol := "\n"
	if bytes.HasSuffix(lines[0], []byte("\r\n")) {
		eol = "\r\n"
	}
	indent := s.spec.Content[0].Column - 1
	block := trafficBlock(indent, seqIndent(s.root, lines), pin.Revision, eol)
	var start, end int // lines [start, end) are replaced by the block, 0-based
	if s.trafKey != nil {
		if !blankBefore(lines[s.trafKey.Line-1], s.trafKey.Column-1) {
			return nil, KnativeService{}, fmt.Errorf("%s: line %d: spec.traffic does not start its line", where, s.trafKey.Line)
		}
		start, end = s.trafKey.Line-1, extent(lines, s.trafKey, s.trafNode)
	} else {
		start = extent(lines, s.specKey, s.spec)
		end = start
		if last := lines[start-1]; !bytes.HasSuffix(last, []byte("\n")) {
			lines[start-1] = append(slices.Clip(last), eol...) // the file ended without a newline
		}
	}
	if last := lines[end-1]; end > start && !bytes.HasSuffix(last, []byte("\n")) {
		block = strings.TrimSuffix(block, eol) // the replaced block ended the file without a newline
	}
	out := make([]byte, 0, len(content)+len(block))
	for _, l := range lines[:start] {
		out = append(out, l...)
	}
	out = append(out, block...)
	for _, l := range lines[end:] {
		out = append(out, l...)
	}
	return out, s.KnativeService, nil
}

func trafficBlock(indent, seq int, revision, eol string) string {
	if needsQuotes(revision) {
		revision = `"` + revision + `"`
	}
	key := strings.Repeat(" ", indent)
	dash := key + strings.Repeat(" ", seq)
	field := dash + "  "
	return key + "traffic: # pinned by shiplog rollback: delete this block to route to the latest revision again" + eol +
		dash + "- revisionName: " + revision + eol +
		field + "percent: 100" + eol +
		dash + "- latestRevision: true" + eol +
		field + "percent: 0" + eol +
		field + "tag: " + LatestTag + eol
}

// extent returns the index of the line after the last line of key's value:
// its last node's line, then the lines indented deeper than key that follow
// (the rest of a multi-line scalar or flow collection, comments inside the
// value). Blank lines after the value stay outside.
func extent(lines [][]byte, key, value *yaml.Node) int {
	end := max(key.Line, lastLine(value))
	indent := key.Column - 1
	for i := end; i < len(lines); i++ {
		l := lines[i]
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if indentOf(l) <= indent {
			break
		}
		end = i + 1
	}
	return end
}

// lastLine returns the largest line of n and its descendants.
func lastLine(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	last := n.Line
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	return last
}

func indentOf(l []byte) int { return len(l) - len(bytes.TrimLeft(l, " ")) }

func blankBefore(l []byte, col int) bool {
	return col <= len(l) && len(bytes.TrimLeft(l[:col], " ")) == 0
}

// seqIndent returns how far the file indents a block sequence's dashes
// beyond its key (0 for "key:\n- a", 2 for "key:\n  - a"), from the first
// such sequence of the document; 0 when there is none.
func seqIndent(root *yaml.Node, lines [][]byte) int {
	var walk func(n *yaml.Node) (int, bool)
	walk = func(n *yaml.Node) (int, bool) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Content[0].Line <= len(lines) {
					l := lines[v.Content[0].Line-1]
					if d := indentOf(l); d < len(l) && l[d] == '-' && d >= k.Column-1 {
						return d - (k.Column - 1), true
					}
				}
			}
		}
		for _, c := range n.Content {
			if s, ok := walk(c); ok {
				return s, true
			}
		}
		return 0, false
	}
	s, _ := walk(root)
	return s
}
