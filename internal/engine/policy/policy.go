// Package policy finds policy deviations: deployments that break a rule
// written in CEL (cel.dev/cel-go), and says which deployments are traceable
// to a reviewed change. Rules are compiled once into a Set; evaluation
// reuses the compiled programs with one activation per deployment.
// docs/policies.md describes the variables, the starter rules and how to
// write rules.
//
// Everything here is a pure function of its input: no I/O, no clock.
package policy

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/shiplog-dev/shiplog/internal/engine/history"
)

// Severity says how serious a deviation is.
type Severity string

// Severities, least serious first.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// ParseSeverity checks a severity name; empty is Warning.
func ParseSeverity(s string) (Severity, error) {
	switch Severity(s) {
	case "":
		return Warning, nil
	case Info, Warning, Critical:
		return Severity(s), nil
	}
	return "", fmt.Errorf("%q is not one of info, warning, critical", s)
}

// Rule is one policy: a CEL expression that is true when a deployment
// deviates from it.
type Rule struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Severity    Severity `json:"severity"`
	Expr        string   `json:"rule"`
	// Environments limits the rule to deployments in these environments;
	// empty: every environment.
	Environments []string `json:"environments,omitempty"`
}

// Starter rules, on unless the configuration lists its own policies
// (docs/policies.md).
const (
	RuleImageNotPinned     = "image-not-pinned"
	RuleRegistryNotAllowed = "registry-not-allowed"
	RuleNoApproval         = "no-approval"
	RuleManualSyncProd     = "manual-sync-in-production"
	RuleOutsideHours       = "outside-allowed-hours"
)

// Starter returns the starter set of rules.
func Starter() []Rule {
	return []Rule{
		{Name: RuleImageNotPinned, Severity: Warning,
			Description: "A production deployment whose image is referenced by tag, not pinned by digest: what runs can change without a Git change.",
			Expr:        `deployment.production && deployment.image_digest == ""`},
		{Name: RuleRegistryNotAllowed, Severity: Critical,
			Description: "The image comes from a registry outside policy.allowed_registries (no deviation while the list is empty).",
			Expr: `size(policy.allowed_registries) > 0 && deployment.image_registry != "" &&
  !policy.allowed_registries.exists(r, deployment.image_registry == r || deployment.image_name.startsWith(r + "/"))`},
		{Name: RuleNoApproval, Severity: Critical,
			Description: "A production deployment whose source change was not approved by someone other than its author.",
			Expr:        `deployment.production && !deployment.approved`},
		{Name: RuleManualSyncProd, Severity: Warning,
			Description: "A production deployment whose Argo CD sync was started by a user instead of automation.",
			Expr:        `deployment.production && deployment.manual_sync`},
		{Name: RuleOutsideHours, Severity: Warning,
			Description: "A production deployment that went live outside policy.allowed_hours (no deviation while they are not set).",
			Expr:        `deployment.production && !deployment.live_at.in_hours(policy.allowed_hours)`},
	}
}

// StarterRule returns the starter rule of that name.
func StarterRule(name string) (Rule, bool) {
	i := slices.IndexFunc(Starter(), func(r Rule) bool { return r.Name == name })
	if i < 0 {
		return Rule{}, false
	}
	return Starter()[i], true
}

// Set is a compiled set of rules. It is safe for concurrent use.
type Set struct {
	rules []compiled
	cfg   Config
}

type compiled struct {
	Rule
	prg  cel.Program
	refs []string // the variables the rule reads: "deployment.x", "policy.y"
}

// hoursCache holds parsed in_hours specs, shared by the programs of one environment.
type hoursCache struct{ m sync.Map }

func (c *hoursCache) get(spec string) (Hours, error) {
	if h, ok := c.m.Load(spec); ok {
		return h.(Hours), nil
	}
	h, err := ParseHours(spec)
	if err == nil {
		c.m.Store(spec, h)
	}
	return h, err
}

// newEnv declares the variables and the in_hours function.
func newEnv(cache *hoursCache) (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[Deployment](), reflect.TypeFor[Config](), ext.ParseStructTags(true)),
		cel.Variable("deployment", cel.ObjectType("policy.Deployment")),
		cel.Variable("policy", cel.ObjectType("policy.Config")),
		ext.Strings(),
		cel.Function("in_hours",
			cel.MemberOverload("timestamp_in_hours_string", []*cel.Type{cel.TimestampType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(func(t, spec ref.Val) ref.Val {
					h, err := cache.get(string(spec.(types.String)))
					if err != nil {
						return types.NewErr("in_hours: %v", err)
					}
					return types.Bool(h.Contains(t.(types.Timestamp).Time))
				}))),
	)
}

// CheckRule compiles one CEL expression against the rule variables: nil
// when it is a valid rule (a boolean expression over `deployment` and
// `policy`).
func CheckRule(expr string) error {
	env, err := newEnv(&hoursCache{})
	if err != nil {
		return fmt.Errorf("policy environment: %w", err)
	}
	_, _, err = compile(env, expr)
	return err
}

func compile(env *cel.Env, expr string) (cel.Program, []string, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil, errors.New("empty rule")
	}
	checked, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, nil, iss.Err()
	}
	if !checked.OutputType().IsExactType(cel.BoolType) {
		return nil, nil, fmt.Errorf("the rule is a %s expression: it must be true or false", checked.OutputType())
	}
	refs, err := inspect(checked.NativeRep())
	if err != nil {
		return nil, nil, err
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, nil, err
	}
	return prg, refs, nil
}

// inspect lists the variables an expression reads and checks the constant
// arguments of in_hours.
func inspect(a *ast.AST) ([]string, error) {
	var refs []string
	var errs []error
	ast.PostOrderVisit(a.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		switch e.Kind() {
		case ast.SelectKind:
			s := e.AsSelect()
			if op := s.Operand(); op.Kind() == ast.IdentKind && (op.AsIdent() == "deployment" || op.AsIdent() == "policy") {
				refs = append(refs, op.AsIdent()+"."+s.FieldName())
			}
		case ast.CallKind:
			c := e.AsCall()
			if c.FunctionName() == "in_hours" && len(c.Args()) == 1 && c.Args()[0].Kind() == ast.LiteralKind {
				if spec, ok := c.Args()[0].AsLiteral().(types.String); ok {
					if _, err := ParseHours(string(spec)); err != nil {
						errs = append(errs, fmt.Errorf("in_hours: %w", err))
					}
				}
			}
		}
	}))
	slices.Sort(refs)
	return slices.Compact(refs), errors.Join(errs...)
}

// RuleError is a rule that does not compile.
type RuleError struct {
	Index int    // position in the list given to Compile
	Name  string // the rule's name
	Err   error
}

func (e *RuleError) Error() string { return fmt.Sprintf("policy %q: %v", e.Name, e.Err) }
func (e *RuleError) Unwrap() error { return e.Err }

// Compile checks and compiles rules; cfg is what they see as `policy`.
// The error names each rule that does not compile (a *RuleError each) and
// any bad setting.
func Compile(rules []Rule, cfg Config) (*Set, error) {
	s := &Set{cfg: cfg}
	s.cfg.AllowedRegistries = nonNil(cfg.AllowedRegistries)
	var errs []error
	if _, err := ParseHours(cfg.AllowedHours); err != nil {
		errs = append(errs, fmt.Errorf("allowed hours: %w", err))
	}
	env, err := newEnv(&hoursCache{})
	if err != nil {
		return nil, fmt.Errorf("policy environment: %w", err)
	}
	seen := map[string]bool{}
	for i, r := range rules {
		if r.Name == "" {
			errs = append(errs, &RuleError{Index: i, Name: fmt.Sprintf("#%d", i+1), Err: errors.New("no name")})
			continue
		}
		if seen[r.Name] {
			errs = append(errs, &RuleError{Index: i, Name: r.Name, Err: errors.New("another rule has the same name")})
			continue
		}
		seen[r.Name] = true
		sev, err := ParseSeverity(string(r.Severity))
		if err != nil {
			errs = append(errs, &RuleError{Index: i, Name: r.Name, Err: fmt.Errorf("severity: %w", err)})
			continue
		}
		r.Severity = sev
		prg, refs, err := compile(env, r.Expr)
		if err != nil {
			errs = append(errs, &RuleError{Index: i, Name: r.Name, Err: err})
			continue
		}
		s.rules = append(s.rules, compiled{Rule: r, prg: prg, refs: refs})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Rules returns the compiled rules.
func (s *Set) Rules() []Rule {
	out := make([]Rule, len(s.rules))
	for i, r := range s.rules {
		out[i] = r.Rule
	}
	return out
}

// Deviation is a deployment that breaks a rule.
type Deviation struct {
	Rule        string      `json:"rule"`
	Severity    Severity    `json:"severity"`
	Description string      `json:"description,omitempty"`
	Deployment  history.Ref `json:"deployment"`
	Team        string      `json:"team,omitempty"`
	// Values are the variables the rule read, with their values for this
	// deployment: why the rule was true.
	Values map[string]any `json:"values"`
}

// EvalError is a rule that could not be evaluated for a deployment (a
// runtime error such as a bad in_hours spec): the deployment is neither
// counted as deviating nor as compliant for that rule.
type EvalError struct {
	Rule       string      `json:"rule"`
	Deployment history.Ref `json:"deployment"`
	Error      string      `json:"error"`
}

// activation resolves the two variables without allocating a map.
type activation struct {
	d *Deployment
	c *Config
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "deployment":
		return a.d, true
	case "policy":
		return a.c, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// Check evaluates every rule that applies to v's environment (and that
// only keeps, when not nil). dep is the deployment v describes, for the
// references of what is returned.
func (s *Set) Check(dep *history.Deployment, v *Deployment, only func(*Rule) bool) ([]Deviation, []EvalError) {
	var res Result
	s.check(&res, dep, v, only)
	return res.Deviations, res.Errors
}

// check appends what v breaks to res.
func (s *Set) check(res *Result, dep *history.Deployment, v *Deployment, only func(*Rule) bool) {
	act := &activation{d: v, c: &s.cfg}
	for i := range s.rules {
		r := &s.rules[i]
		if len(r.Environments) > 0 && !slices.Contains(r.Environments, v.Environment) || only != nil && !only(&r.Rule) {
			continue
		}
		out, _, err := r.prg.Eval(act)
		if err != nil {
			res.Errors = append(res.Errors, EvalError{Rule: r.Name, Deployment: dep.Ref(), Error: err.Error()})
			continue
		}
		if out != types.True {
			continue
		}
		vals := make(map[string]any, len(r.refs))
		for _, name := range r.refs {
			if val, ok := value(name, v, act.c); ok {
				vals[name] = val
			}
		}
		res.Deviations = append(res.Deviations, Deviation{Rule: r.Name, Severity: r.Severity, Description: r.Description, Deployment: dep.Ref(), Team: dep.Team, Values: vals})
	}
}
