package eddy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The import rules of DESIGN.md §2, enforced. Each package of the repository (all four
// modules) must match exactly one rule; its non-test imports must be the standard library,
// its own subtree, or what the rule allows. Test files are free: they are not part of what
// an application links.

const module = "github.com/eddy-streams/eddy"

const kafkaClient = "github.com/twmb/franz-go"

// importRule says what the packages at pkg import. Paths are relative to module; a path
// ending in "/..." stands for a package and everything below it.
type importRule struct {
	pkg string
	// mayImport lists the Eddy packages (relative) and third-party module paths (absolute)
	// that pkg may import directly. "*" allows any third-party package.
	mayImport []string
	// noKafkaClient forbids franz-go anywhere in pkg's dependencies, direct or not, so
	// that code written against pkg can be tested without a broker.
	noKafkaClient bool
}

var importRules = []importRule{
	{pkg: "serde", noKafkaClient: true},
	{pkg: "processor", mayImport: []string{"serde"}, noKafkaClient: true},
	{pkg: "store/...", mayImport: []string{"store/...", "serde", "processor", "github.com/cockroachdb/pebble/v2"}, noKafkaClient: true},
	{pkg: "topology/...", mayImport: []string{"processor", "serde", "store/...", "internal/plan"}, noKafkaClient: true},
	{pkg: "internal/plan", mayImport: []string{"processor", "serde", "store/..."}, noKafkaClient: true},
	{pkg: "internal/changelog/...", mayImport: []string{"store/...", "internal/plan", kafkaClient}},
	{pkg: "internal/rebalance/...", mayImport: []string{"processor", "internal/plan", kafkaClient}},
	{pkg: "internal/cache", mayImport: []string{"store/..."}, noKafkaClient: true},
	{pkg: "internal/...", mayImport: []string{"serde", "processor", "store/...", "topology/...", "internal/...", "*"}},
	{pkg: "eddytest/...", mayImport: []string{"topology/...", "processor", "store/...", "serde", "internal/..."}},
	{pkg: "", mayImport: []string{"serde", "processor", "store/...", "topology/...", "internal/...", "*"}},
	// The embedded broker's module wraps the Kafka client's in-process broker and imports
	// nothing of Eddy's, so that it builds without the library and needs no replace.
	{pkg: "embedded/...", mayImport: []string{kafkaClient}},
	// The operator's command (cmd/eddy) reads what the library writes: anything in the module.
	{pkg: "cmd/...", mayImport: []string{"", "serde", "processor", "store/...", "topology/...", "internal/...", "eddytest/...", "cmd/...", "*"}},
	// The examples and integration modules use the public API only.
	{pkg: "examples/...", mayImport: []string{"", "serde", "processor", "store/...", "topology/...", "eddytest/...", "embedded/...", "examples/...", kafkaClient}},
	{pkg: "integration/...", mayImport: []string{"", "serde", "processor", "store/...", "topology/...", "eddytest/...", "examples/...", "integration/...", "*"}},
}

// listedPackage is the part of `go list -json` output that the rules need.
type listedPackage struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

func TestImportRules(t *testing.T) {
	var pkgs []listedPackage
	for _, dir := range []string{".", "embedded", "examples", "integration"} {
		listed, err := goList(dir)
		if err != nil {
			t.Fatalf("listing the packages of module %s: %v", dir, err)
		}
		pkgs = append(pkgs, listed...)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; the layout has more", len(pkgs))
	}
	for _, v := range importViolations(pkgs, importRules) {
		t.Error(v)
	}
}

// TestImportRulesCatchViolations shows that the checker reports each kind of violation, so
// that a green TestImportRules means something.
func TestImportRulesCatchViolations(t *testing.T) {
	kgo := kafkaClient + "/pkg/kgo"
	cases := []struct {
		name string
		pkg  listedPackage
		want string
	}{
		{
			name: "topology importing the Kafka client directly",
			pkg:  listedPackage{ImportPath: module + "/topology", Imports: []string{"fmt", kgo}, Deps: []string{kgo}},
			want: "topology imports " + kgo,
		},
		{
			name: "store reaching the Kafka client through another package",
			pkg:  listedPackage{ImportPath: module + "/store", Imports: []string{module + "/serde"}, Deps: []string{module + "/serde", kgo}},
			want: "store depends on " + kgo,
		},
		{
			name: "processor importing store",
			pkg:  listedPackage{ImportPath: module + "/processor", Imports: []string{module + "/store"}},
			want: "processor imports " + module + "/store",
		},
		{
			name: "an example importing the engine",
			pkg:  listedPackage{ImportPath: module + "/examples/wordcount", Imports: []string{module + "/internal/task"}},
			want: "examples/wordcount imports " + module + "/internal/task",
		},
		{
			name: "the embedded broker importing Eddy",
			pkg:  listedPackage{ImportPath: module + "/embedded", Imports: []string{module + "/topology"}},
			want: "embedded imports " + module + "/topology",
		},
		{
			name: "a package no rule covers",
			pkg:  listedPackage{ImportPath: module + "/newthing"},
			want: "newthing has no import rule",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := importViolations([]listedPackage{c.pkg}, importRules)
			if !slices.ContainsFunc(got, func(v string) bool { return strings.HasPrefix(v, c.want) }) {
				t.Errorf("violations %q, want one starting %q", got, c.want)
			}
		})
	}

	allowed := []listedPackage{
		{ImportPath: module + "/store", Imports: []string{"bytes", module + "/serde", "github.com/cockroachdb/pebble/v2/vfs"}},
		{ImportPath: module + "/internal/engine", Imports: []string{module + "/topology", kgo}, Deps: []string{kgo}},
		{ImportPath: module + "/topology/internal/graph", Imports: []string{module + "/store/memory"}},
	}
	if got := importViolations(allowed, importRules); len(got) != 0 {
		t.Errorf("allowed imports reported as violations: %q", got)
	}
}

func importViolations(pkgs []listedPackage, rules []importRule) []string {
	var violations []string
	for _, p := range pkgs {
		if p.Standard {
			continue
		}
		rel, ok := relative(p.ImportPath)
		if !ok {
			continue
		}
		rule, ok := ruleFor(rel, rules)
		if !ok {
			violations = append(violations, fmt.Sprintf("%s has no import rule: add one to importRules and DESIGN.md", display(rel)))
			continue
		}
		for _, imp := range p.Imports {
			if !allowedImport(rel, imp, rule) {
				violations = append(violations, fmt.Sprintf("%s imports %s, which DESIGN.md §2 does not allow", display(rel), imp))
			}
		}
		if rule.noKafkaClient {
			for _, dep := range p.Deps {
				if underPath(dep, kafkaClient) {
					violations = append(violations, fmt.Sprintf("%s depends on %s: it must stay testable without the Kafka client", display(rel), dep))
					break
				}
			}
		}
	}
	return violations
}

// ruleFor returns the rule with the longest pattern that matches rel.
func ruleFor(rel string, rules []importRule) (importRule, bool) {
	var best importRule
	found := false
	for _, r := range rules {
		if matchRelative(r.pkg, rel) && (!found || len(r.pkg) > len(best.pkg)) {
			best, found = r, true
		}
	}
	return best, found
}

func allowedImport(from, imp string, rule importRule) bool {
	rel, inModule := relative(imp)
	if inModule {
		if rel == from || strings.HasPrefix(rel, from+"/") {
			return true
		}
		// Go's own rule already keeps internal/ out of reach of unrelated trees; this one
		// keeps the layers apart.
		return slices.ContainsFunc(rule.mayImport, func(pattern string) bool {
			return !thirdParty(pattern) && matchRelative(pattern, rel)
		})
	}
	if !thirdParty(imp) {
		return true // the standard library
	}
	return slices.ContainsFunc(rule.mayImport, func(pattern string) bool {
		return pattern == "*" || (thirdParty(pattern) && underPath(imp, pattern))
	})
}

// thirdParty reports whether path names a package outside the standard library: its
// first element is a domain name.
func thirdParty(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return strings.Contains(first, ".")
}

// relative returns path relative to the module, "" for the root package.
func relative(path string) (string, bool) {
	if path == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

func matchRelative(pattern, rel string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == base || strings.HasPrefix(rel, base+"/")
	}
	return rel == pattern
}

func underPath(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func display(rel string) string {
	if rel == "" {
		return "eddy (root)"
	}
	return rel
}

func goList(dir string) ([]listedPackage, error) {
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Standard,Imports,Deps", "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %w: %s", dir, err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("decoding go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
}
