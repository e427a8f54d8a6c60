package manifest

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Style says how an image reference is written in a file.
type Style string

// The styles of image reference Extract recognises.
const (
	// StyleWorkload is a container or init container "image:" in a
	// Kubernetes workload: Deployment, StatefulSet, DaemonSet, ReplicaSet,
	// ReplicationController, Pod, Job, CronJob, Argo Rollout or Knative
	// Service.
	StyleWorkload Style = "workload"
	// StyleKustomize is an entry of a kustomization's images list.
	StyleKustomize Style = "kustomize"
	// StyleHelm is an image in a Helm values file, as a map of
	// registry/repository/tag/digest or as a "repo:tag" string.
	StyleHelm Style = "helm"
	// StyleImageUpdater is an image in an argocd-image-updater write-back
	// file, .argocd-source-<app>.yaml.
	StyleImageUpdater Style = "image-updater"
)

// ReasonHelmTemplate is the FileError reason for a Helm chart template: its
// image references are Go template actions, not values.
const ReasonHelmTemplate = "helm template, not rendered values"

// reasonMalformed prefixes the FileError reason for YAML that does not parse.
const reasonMalformed = "malformed YAML: "

// Ref is one image reference found in a file.
type Ref struct {
	// Key identifies where the reference is in the file, independently of
	// line numbers, so that two versions of the file can be compared. It is
	// unique within one Extract result, and only meaningful within one file.
	// Forms: "workload:<Kind>/<namespace>/<name>/<containers|initContainers>/<container>",
	// "kustomize:images/<name>", "helm:<key path>",
	// "image-updater:helm/<parameter prefix>", "image-updater:kustomize/<name>".
	Key string
	// Style says how the reference is written.
	Style Style
	// Kind is the Kubernetes kind of a workload, "Kustomization" or
	// "Component" for kustomize refs, and empty for Helm and image-updater
	// refs.
	Kind string
	// Namespace is metadata.namespace of a workload, or the namespace field
	// of a kustomization; it is empty when the file does not set one.
	Namespace string
	// Name is metadata.name (or generateName) of a workload; for the other
	// styles it is the file path.
	Name string
	// Container is the container name of a workload, the image name of a
	// kustomization entry or image-updater kustomize image, and the key path
	// of a Helm image ("api.image", "sidecars[0].image") or the parameter
	// prefix of an image-updater Helm image ("image", "api.image").
	Container string
	// Image is the effective reference as written, e.g.
	// "ghcr.io/acme/api:1.2.3". When the file sets only a tag or a digest, as
	// an environment's values file often does, it is ":<tag>" or
	// "@<digest>": the repository comes from another file.
	Image string
	// Tag is the tag of Image, or "".
	Tag string
	// Digest is the digest of Image without its "@", or "".
	Digest string
	// Line is the 1-based line of the value in the file: for references
	// spread over several fields, the tag's line, else the digest's, else the
	// repository's.
	Line int
}

// FileError reports a file whose image references cannot be read: YAML that
// does not parse, or a Helm template. Callers count these and carry on.
type FileError struct {
	// Path is the file path given to Extract.
	Path string
	// Line is the 1-based line of the problem, or 0 when unknown.
	Line int
	// Reason says what is wrong, e.g. ReasonHelmTemplate or
	// "malformed YAML: did not find expected key".
	Reason string
}

// Error implements error as "path:line: reason".
func (e *FileError) Error() string {
	if e.Line > 0 {
		return e.Path + ":" + strconv.Itoa(e.Line) + ": " + e.Reason
	}
	return e.Path + ": " + e.Reason
}

// fileKind is what a file's path says about it.
type fileKind int

const (
	fileIgnored fileKind = iota
	fileYAML
	fileKustomization
	fileImageUpdater
)

// Strings searched for before parsing.
const (
	// mage is in "image", "images", "Image" and "image.tag": a document
	// without it has no image reference.
	mage = "mage"
	// templateStart opens a Go template action.
	templateStart = "{{"
)

// Extract returns the image references in one version of a file, in file
// order. path is the file's path in the repository, with "/" separators.
//
// Relevant files are kustomization.yaml, kustomization.yml and Kustomization;
// .argocd-source.yaml and .argocd-source-<app>.yaml; and other .yaml and .yml
// files, in which every document (multi-document files and List items
// included) that is a workload or a kustomize Kustomization/Component is read.
// Documents that are not Kubernetes objects are read as Helm values when the
// path looks like one: a file named values*.yaml or *values.yaml, or any YAML
// file under a directory named chart, charts, helm, values or helm-values.
// Chart.yaml is ignored.
//
// Files that are not relevant, or that contain no image reference, give
// (nil, nil). Only the documents of a file that mention an image are parsed
// (see run), so a syntax error in a document without one goes unnoticed.
// Malformed YAML gives a *FileError with the line, and so does a Helm
// template (with Reason ReasonHelmTemplate): a file under a templates/
// directory containing "{{", a document that does not parse and contains
// "{{", or an image value written with "{{ }}".
func Extract(path string, content []byte) ([]Ref, error) {
	return extract(path, content, false)
}

// ExtractStrict is Extract that parses every document of the file, so a
// syntax error anywhere is reported. Callers use it when a file's image
// references seem to have all disappeared, to tell a removal from a file
// that no longer parses.
func ExtractStrict(path string, content []byte) ([]Ref, error) {
	return extract(path, content, true)
}

func extract(path string, content []byte, strict bool) ([]Ref, error) {
	kind, helm := classifyPath(path)
	if kind == fileIgnored {
		return nil, nil
	}
	if !strict && kind != fileImageUpdater && !bytes.Contains(content, []byte(mage)) {
		return nil, nil
	}
	if inTemplatesDir(path) && bytes.Contains(content, []byte(templateStart)) {
		return nil, &FileError{Path: path, Line: firstLineWith(content, []byte(templateStart)), Reason: ReasonHelmTemplate}
	}
	x := extractor{path: path, content: content, kind: kind, helm: helm, strict: strict}
	if err := x.run(); err != nil {
		return nil, err
	}
	return x.refs, nil
}

// classifyPath says from its path whether a file may hold image references,
// in which style, and whether its plain YAML documents are Helm values.
func classifyPath(path string) (kind fileKind, helm bool) {
	dir, base := splitPath(path)
	if base == "Kustomization" {
		return fileKustomization, false
	}
	stem, ok := strings.CutSuffix(base, ".yaml")
	if !ok {
		if stem, ok = strings.CutSuffix(base, ".yml"); !ok {
			return fileIgnored, false
		}
	}
	switch {
	case strings.HasPrefix(base, ".argocd-source"):
		if (stem == ".argocd-source" || strings.HasPrefix(stem, ".argocd-source-")) && strings.HasSuffix(base, ".yaml") {
			return fileImageUpdater, false
		}
		return fileIgnored, false
	case stem == "kustomization":
		return fileKustomization, false
	case base == "Chart.yaml":
		return fileIgnored, false
	}
	return fileYAML, isValuesName(stem) || inHelmDir(dir)
}

// isValuesName reports whether a file stem names a Helm values file:
// values, values-prod, values.prod, values_prod, prod-values, prod.values.
func isValuesName(stem string) bool {
	if rest, ok := strings.CutPrefix(stem, "values"); ok {
		return rest == "" || rest[0] == '-' || rest[0] == '.' || rest[0] == '_'
	}
	if rest, ok := strings.CutSuffix(stem, "values"); ok {
		c := rest[len(rest)-1]
		return c == '-' || c == '.' || c == '_'
	}
	return false
}

// inHelmDir reports whether a directory path has a segment that holds Helm
// charts or values.
func inHelmDir(dir string) bool {
	for dir != "" {
		seg := dir
		if i := strings.IndexByte(dir, '/'); i >= 0 {
			seg, dir = dir[:i], dir[i+1:]
		} else {
			dir = ""
		}
		switch seg {
		case "chart", "charts", "helm", "values", "helm-values":
			return true
		}
	}
	return false
}

// inTemplatesDir reports whether path is under a directory named templates.
func inTemplatesDir(path string) bool {
	dir, _ := splitPath(path)
	return dir == "templates" || strings.HasPrefix(dir, "templates/") ||
		strings.HasSuffix(dir, "/templates") || strings.Contains(dir, "/templates/")
}

// splitPath splits a slash-separated path into directory and base name.
func splitPath(path string) (dir, base string) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

// extractor holds the state of one Extract call.
type extractor struct {
	path    string
	content []byte
	kind    fileKind
	helm    bool
	refs    []Ref
	keys    map[string]int // times each key was emitted
	offset  int            // lines of the file before the document being read
	strict  bool           // parse documents that mention no image too
}

// line returns the 1-based line of n in the file.
func (x *extractor) line(n *yaml.Node) int { return n.Line + x.offset }

// emit appends r, making its key unique within the file.
func (x *extractor) emit(r Ref) {
	if x.keys == nil {
		x.keys = make(map[string]int)
	}
	n := x.keys[r.Key] + 1
	x.keys[r.Key] = n
	if n > 1 {
		r.Key += "#" + strconv.Itoa(n)
	}
	if r.Tag == "" && r.Digest == "" {
		_, r.Tag, r.Digest = splitReference(r.Image)
	}
	x.refs = append(x.refs, r)
}

// run parses the documents of the file that may hold image references.
//
// Parsing is what costs, so a file is cut at its document markers ("---" and
// "..." at the start of a line, which YAML forbids inside any scalar) and
// only the documents that contain "mage" are parsed, each once; a syntax
// error in another document goes unnoticed. Files with directives ("%YAML",
// "%TAG"), which belong to the document after them, and image-updater files
// are parsed whole.
func (x *extractor) run() error {
	content := x.content
	if x.kind == fileImageUpdater || hasDirective(content) {
		return x.parse(content, 1, true)
	}
	start, startLine := 0, 1
	for pos, line := 0, 1; pos < len(content); line++ {
		end := len(content)
		if i := bytes.IndexByte(content[pos:], '\n'); i >= 0 {
			end = pos + i + 1
		}
		switch {
		case isMarker(content[pos:], "---") && pos > start:
			if err := x.parse(content[start:pos], startLine, false); err != nil {
				return err
			}
			start, startLine = pos, line
		case isMarker(content[pos:], "..."):
			if err := x.parse(content[start:end], startLine, false); err != nil {
				return err
			}
			start, startLine = end, line+1
		}
		pos = end
	}
	return x.parse(content[start:], startLine, false)
}

// parse reads the YAML in doc, which starts at firstLine of the file, if it
// mentions an image. With whole, doc is the whole file and may hold several
// documents; otherwise it holds at most one.
func (x *extractor) parse(doc []byte, firstLine int, whole bool) error {
	if !x.strict && x.kind != fileImageUpdater && !bytes.Contains(doc, []byte(mage)) {
		return nil
	}
	x.offset = firstLine - 1
	if !whole {
		// Unmarshal parses the bytes in place; a Decoder would copy them
		// through a reader with buffers of its own.
		var n yaml.Node
		if err := yaml.Unmarshal(doc, &n); err != nil {
			return x.parseError(err, doc)
		}
		return x.document(&n)
	}
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return x.parseError(err, doc)
		}
		if err := x.document(&n); err != nil {
			return err
		}
	}
}

// isMarker reports whether line starts with the document marker m ("---" or
// "...") followed by a space, a tab, a line break or the end of the file.
func isMarker(line []byte, m string) bool {
	if len(line) < 3 || string(line[:3]) != m {
		return false
	}
	if len(line) == 3 {
		return true
	}
	c := line[3]
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// hasDirective reports whether content has a line starting with "%".
func hasDirective(content []byte) bool {
	return len(content) > 0 && content[0] == '%' || bytes.Contains(content, []byte("\n%"))
}

// parseError turns a yaml.v3 error in doc into a *FileError. A document
// that does not parse and contains "{{" is taken for a Helm template.
func (x *extractor) parseError(err error, doc []byte) error {
	if i := bytes.Index(doc, []byte(templateStart)); i >= 0 {
		return &FileError{Path: x.path, Line: x.offset + 1 + bytes.Count(doc[:i], []byte{'\n'}), Reason: ReasonHelmTemplate}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line, msg = n, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	switch {
	case isParserProblem(msg):
		// yaml.v3 prints parser errors with a 0-based line and omits line 0.
		line++
	case line == 0 && isScannerProblem(msg):
		// Scanner errors are printed 1-based, and without a line on line 1.
		line = 1
	}
	if last := lastLine(doc); line > last {
		// A problem at the end of the input is placed on the line after it.
		line = last
	}
	if line > 0 {
		line += x.offset
	}
	return &FileError{Path: x.path, Line: line, Reason: reasonMalformed + msg}
}

// lastLine returns the number of the last line of doc that has content.
func lastLine(doc []byte) int {
	n := bytes.Count(doc, []byte{'\n'})
	if len(doc) > 0 && doc[len(doc)-1] != '\n' {
		n++
	}
	return max(n, 1)
}

// isParserProblem reports whether msg is one of the problems yaml.v3's
// parser (as opposed to its scanner) reports.
func isParserProblem(msg string) bool {
	switch msg {
	case "did not find expected ',' or ']'", "did not find expected ',' or '}'",
		"did not find expected '-' indicator", "did not find expected <document start>",
		"did not find expected <stream-start>", "did not find expected key",
		"did not find expected node content", "found duplicate %TAG directive",
		"found duplicate %YAML directive", "found incompatible YAML document",
		"found undefined tag handle":
		return true
	}
	return false
}

// isScannerProblem reports whether msg looks like a problem reported by
// yaml.v3's scanner.
func isScannerProblem(msg string) bool {
	return strings.HasPrefix(msg, "did not find expected ") || strings.HasPrefix(msg, "found ") ||
		strings.HasPrefix(msg, "could not find expected ") || strings.Contains(msg, "not allowed in this context")
}

// templateError returns the FileError for an image value, n, written as a
// Helm template action.
func (x *extractor) templateError(n *yaml.Node) error {
	return &FileError{Path: x.path, Line: x.line(n), Reason: ReasonHelmTemplate}
}

// templated reports whether n, found where an image value belongs, is a Helm
// template action: a string containing "{{", or a non-scalar on a line with
// "{{" (YAML reads "{{ .Values.image }}" as a flow mapping).
func (x *extractor) templated(n *yaml.Node) bool {
	if n.Kind == yaml.ScalarNode {
		return strings.Contains(n.Value, templateStart)
	}
	return lineContains(x.content, x.line(n), []byte(templateStart))
}

// document reads one YAML document.
func (x *extractor) document(doc *yaml.Node) error {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil
	}
	switch x.kind {
	case fileImageUpdater:
		return x.imageUpdater(root)
	case fileKustomization:
		return x.kustomization(root, "Kustomization")
	}
	apiVersion, kind := scalar(lookup(root, "apiVersion")), scalar(lookup(root, "kind"))
	if apiVersion != "" && kind != "" {
		return x.object(root, apiVersion, kind, 0)
	}
	if x.helm {
		return x.helmValues(root, make([]pathElem, 0, 16))
	}
	return nil
}

// maxListDepth bounds how deeply List objects are followed.
const maxListDepth = 3

// object reads one Kubernetes object.
func (x *extractor) object(obj *yaml.Node, apiVersion, kind string, depth int) error {
	var podSpec *yaml.Node
	switch kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job":
		podSpec = lookupPath(obj, "spec", "template", "spec")
	case "Rollout":
		if strings.HasPrefix(apiVersion, "argoproj.io/") {
			podSpec = lookupPath(obj, "spec", "template", "spec")
		}
	case "Service":
		if strings.HasPrefix(apiVersion, "serving.knative.dev/") {
			podSpec = lookupPath(obj, "spec", "template", "spec")
		}
	case "Pod":
		podSpec = lookup(obj, "spec")
	case "CronJob":
		podSpec = lookupPath(obj, "spec", "jobTemplate", "spec", "template", "spec")
	case "Kustomization", "Component":
		if strings.HasPrefix(apiVersion, "kustomize.config.k8s.io/") {
			return x.kustomization(obj, kind)
		}
		return nil
	default:
		if strings.HasSuffix(kind, "List") && depth < maxListDepth {
			return x.list(obj, depth)
		}
		return nil
	}
	if podSpec == nil || podSpec.Kind != yaml.MappingNode {
		return nil
	}
	meta := lookup(obj, "metadata")
	name := scalar(lookup(meta, "name"))
	if name == "" {
		name = scalar(lookup(meta, "generateName"))
	}
	namespace := scalar(lookup(meta, "namespace"))
	for i := 0; i+1 < len(podSpec.Content); i += 2 {
		field := podSpec.Content[i].Value
		if field != "containers" && field != "initContainers" {
			continue
		}
		list := resolve(podSpec.Content[i+1])
		if list.Kind != yaml.SequenceNode {
			continue
		}
		for j, c := range list.Content {
			c = resolve(c)
			if c.Kind != yaml.MappingNode {
				continue
			}
			img := lookup(c, "image")
			if img == nil {
				continue
			}
			if x.templated(img) {
				return x.templateError(img)
			}
			value := scalar(img)
			if value == "" {
				continue
			}
			container := scalar(lookup(c, "name"))
			keyName := container
			if keyName == "" {
				keyName = "#" + strconv.Itoa(j)
			}
			x.emit(Ref{
				Key:       "workload:" + kind + "/" + namespace + "/" + name + "/" + field + "/" + keyName,
				Style:     StyleWorkload,
				Kind:      kind,
				Namespace: namespace,
				Name:      name,
				Container: container,
				Image:     value,
				Line:      x.line(img),
			})
		}
	}
	return nil
}

// list reads the items of a List object.
func (x *extractor) list(obj *yaml.Node, depth int) error {
	items := lookup(obj, "items")
	if items == nil || items.Kind != yaml.SequenceNode {
		return nil
	}
	for _, item := range items.Content {
		item = resolve(item)
		if item.Kind != yaml.MappingNode {
			continue
		}
		apiVersion, kind := scalar(lookup(item, "apiVersion")), scalar(lookup(item, "kind"))
		if apiVersion == "" || kind == "" {
			continue
		}
		if err := x.object(item, apiVersion, kind, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// kustomization reads the images list of a kustomization.
func (x *extractor) kustomization(root *yaml.Node, kind string) error {
	images := lookup(root, "images")
	if images == nil || images.Kind != yaml.SequenceNode {
		return nil
	}
	namespace := scalar(lookup(root, "namespace"))
	for _, entry := range images.Content {
		entry = resolve(entry)
		if entry.Kind != yaml.MappingNode {
			continue
		}
		var name, newName, newTag, digest *yaml.Node
		for i := 0; i+1 < len(entry.Content); i += 2 {
			v := resolve(entry.Content[i+1])
			switch entry.Content[i].Value {
			case "name":
				name = v
			case "newName":
				newName = v
			case "newTag":
				newTag = v
			case "digest":
				digest = v
			default:
				continue
			}
			if x.templated(v) {
				return x.templateError(v)
			}
		}
		if scalar(name) == "" {
			continue
		}
		image := scalar(name)
		if s := scalar(newName); s != "" {
			image = s
		}
		tag, dig := scalar(newTag), scalar(digest)
		if tag != "" {
			image += ":" + tag
		}
		if dig != "" {
			image += "@" + dig
		}
		x.emit(Ref{
			Key:       "kustomize:images/" + name.Value,
			Style:     StyleKustomize,
			Kind:      kind,
			Namespace: namespace,
			Name:      x.path,
			Container: name.Value,
			Image:     image,
			Tag:       tag,
			Digest:    dig,
			Line:      x.firstLine(newTag, digest, newName, name),
		})
	}
	return nil
}

// paramGroup gathers the image-updater Helm parameters that share a prefix,
// such as api.image.repository and api.image.tag.
type paramGroup struct {
	prefix                            string
	registry, repo, tag, digest, spec *yaml.Node
}

// imageUpdater reads an argocd-image-updater write-back file.
func (x *extractor) imageUpdater(root *yaml.Node) error {
	if err := x.imageUpdaterHelm(lookupPath(root, "helm", "parameters")); err != nil {
		return err
	}
	return x.imageUpdaterKustomize(lookupPath(root, "kustomize", "images"))
}

// imageUpdaterHelm reads helm.parameters, grouping parameters by the prefix
// before their last dot. A group is an image when it has a tag, digest or
// spec parameter, or when its prefix ends with "image".
func (x *extractor) imageUpdaterHelm(params *yaml.Node) error {
	if params == nil || params.Kind != yaml.SequenceNode {
		return nil
	}
	var groups []paramGroup
	for _, p := range params.Content {
		p = resolve(p)
		if p.Kind != yaml.MappingNode {
			continue
		}
		name := scalar(lookup(p, "name"))
		value := lookup(p, "value")
		if name == "" || value == nil {
			continue
		}
		prefix, field := "", name
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			prefix, field = name[:i], name[i+1:]
		}
		var slot **yaml.Node
		g := groupFor(&groups, prefix)
		switch field {
		case "registry":
			slot = &g.registry
		case "name", "repository":
			slot = &g.repo
		case "tag":
			slot = &g.tag
		case "digest":
			slot = &g.digest
		case "spec":
			slot = &g.spec
		default:
			continue
		}
		if x.templated(value) {
			return x.templateError(value)
		}
		*slot = value
	}
	for i := range groups {
		g := &groups[i]
		if g.tag == nil && g.digest == nil && g.spec == nil && !hasSuffixFold(g.prefix, "image") {
			continue
		}
		var image string
		if s := scalar(g.spec); s != "" {
			image = s
		} else {
			image = joinImage(scalar(g.registry), scalar(g.repo), scalar(g.tag), scalar(g.digest))
		}
		if image == "" {
			continue
		}
		x.emit(Ref{
			Key:       "image-updater:helm/" + g.prefix,
			Style:     StyleImageUpdater,
			Name:      x.path,
			Container: g.prefix,
			Image:     image,
			Line:      x.firstLine(g.tag, g.spec, g.digest, g.repo),
		})
	}
	return nil
}

// groupFor returns the group for prefix, adding it in first-seen order.
func groupFor(groups *[]paramGroup, prefix string) *paramGroup {
	for i := range *groups {
		if (*groups)[i].prefix == prefix {
			return &(*groups)[i]
		}
	}
	*groups = append(*groups, paramGroup{prefix: prefix})
	return &(*groups)[len(*groups)-1]
}

// imageUpdaterKustomize reads kustomize.images: strings "repo:tag" or
// "name=repo:tag", as given to kustomize edit set image.
func (x *extractor) imageUpdaterKustomize(images *yaml.Node) error {
	if images == nil || images.Kind != yaml.SequenceNode {
		return nil
	}
	for _, n := range images.Content {
		n = resolve(n)
		if x.templated(n) {
			return x.templateError(n)
		}
		if n.Kind != yaml.ScalarNode || n.Value == "" {
			continue
		}
		name, image := "", n.Value
		if i := strings.IndexByte(image, '='); i >= 0 {
			name, image = image[:i], image[i+1:]
		} else {
			name, _, _ = splitReference(image)
		}
		if image == "" {
			continue
		}
		x.emit(Ref{
			Key:       "image-updater:kustomize/" + name,
			Style:     StyleImageUpdater,
			Name:      x.path,
			Container: name,
			Image:     image,
			Line:      x.line(n),
		})
	}
	return nil
}

// pathElem is one step of a key path in Helm values: a map key, or a
// sequence index when key is "".
type pathElem struct {
	key   string
	index int
}

// keyPath renders path as "api.image" or "sidecars[0].image".
func keyPath(path []pathElem) string {
	var b strings.Builder
	for _, e := range path {
		if e.key == "" {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.key)
	}
	return b.String()
}

// helmValues walks Helm values for image maps and image strings. Aliases are
// not followed while walking, so a file cannot make the walk explode.
func (x *extractor) helmValues(n *yaml.Node, path []pathElem) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				continue
			}
			p := append(path, pathElem{key: k.Value})
			if isImageKey(k.Value) || (v.Kind == yaml.MappingNode && lookup(v, "repository") != nil) {
				done, err := x.helmImage(resolve(v), p, isImageKey(k.Value))
				if err != nil {
					return err
				}
				if done {
					continue
				}
			}
			if v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode {
				if err := x.helmValues(v, p); err != nil {
					return err
				}
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			if v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode {
				if err := x.helmValues(v, append(path, pathElem{index: i})); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// isImageKey reports whether a Helm values key names an image: "image", or
// a camel-case name ending in "Image" such as "initImage".
func isImageKey(k string) bool {
	return k == "image" || (len(k) > len("Image") && strings.HasSuffix(k, "Image"))
}

// helmImage reads the value v at path as an image. With imageKey (the key
// names an image) it accepts a map with any of repository, name, tag or
// digest, or a string that parses as a reference; otherwise only a map with
// a repository and a tag or digest. It reports whether v was an image.
func (x *extractor) helmImage(v *yaml.Node, path []pathElem, imageKey bool) (bool, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if !imageKey || v.Value == "" || v.ShortTag() != "!!str" {
			return false, nil
		}
		if x.templated(v) {
			return false, x.templateError(v)
		}
		if _, err := ParseImage(v.Value); err != nil {
			return false, nil
		}
		key := keyPath(path)
		x.emit(Ref{Key: "helm:" + key, Style: StyleHelm, Name: x.path, Container: key, Image: v.Value, Line: x.line(v)})
		return true, nil
	case yaml.MappingNode:
		var registry, repo, name, tag, digest *yaml.Node
		for i := 0; i+1 < len(v.Content); i += 2 {
			f := resolve(v.Content[i+1])
			switch v.Content[i].Value {
			case "registry":
				registry = f
			case "repository":
				repo = f
			case "name":
				name = f
			case "tag":
				tag = f
			case "digest":
				digest = f
			default:
				continue
			}
			if x.templated(f) {
				return false, x.templateError(f)
			}
		}
		if repo == nil {
			repo = name
		}
		r, t, d := scalar(repo), scalar(tag), scalar(digest)
		if imageKey && r == "" && t == "" && d == "" {
			if x.templated(v) {
				return false, x.templateError(v)
			}
			return false, nil
		}
		if !imageKey && (r == "" || (t == "" && d == "")) {
			return false, nil
		}
		key := keyPath(path)
		x.emit(Ref{
			Key:       "helm:" + key,
			Style:     StyleHelm,
			Name:      x.path,
			Container: key,
			Image:     joinImage(scalar(registry), r, t, d),
			Tag:       t,
			Digest:    d,
			Line:      x.firstLine(tag, digest, repo),
		})
		return true, nil
	}
	if imageKey && x.templated(v) {
		return false, x.templateError(v)
	}
	return false, nil
}

// joinImage builds a reference from its parts; without a repository it is
// ":tag" and/or "@digest".
func joinImage(registry, repo, tag, digest string) string {
	s := repo
	if registry != "" && repo != "" {
		s = registry + "/" + repo
	}
	if tag != "" {
		s += ":" + tag
	}
	if digest != "" {
		s += "@" + digest
	}
	return s
}

// firstLine returns the line of the first non-empty scalar among nodes.
func (x *extractor) firstLine(nodes ...*yaml.Node) int {
	for _, n := range nodes {
		if scalar(n) != "" {
			return x.line(n)
		}
	}
	return 0
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// lookup returns the value of key in mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil {
		return nil
	}
	m = resolve(m)
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return resolve(m.Content[i+1])
		}
	}
	return nil
}

// lookupPath follows keys from m.
func lookupPath(m *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if m = lookup(m, k); m == nil {
			return nil
		}
	}
	return m
}

// scalar returns the value of a scalar node other than null, or "" for
// nil, null and non-scalar nodes.
func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		return ""
	}
	return n.Value
}

// hasSuffixFold reports whether s ends with suffix, ignoring ASCII case.
func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// firstLineWith returns the 1-based line of the first occurrence of sub.
func firstLineWith(content, sub []byte) int {
	i := bytes.Index(content, sub)
	if i < 0 {
		return 0
	}
	return 1 + bytes.Count(content[:i], []byte{'\n'})
}

// lineContains reports whether the 1-based line of content contains sub.
func lineContains(content []byte, line int, sub []byte) bool {
	for n := 1; n < line; n++ {
		i := bytes.IndexByte(content, '\n')
		if i < 0 {
			return false
		}
		content = content[i+1:]
	}
	if i := bytes.IndexByte(content, '\n'); i >= 0 {
		content = content[:i]
	}
	return bytes.Contains(content, sub)
}
