package lab_test

import (
	"go/parser"
	"go/token"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"crew/internal/lab"
)

// The package doc names the experiments that have a Python twin. They must
// be exactly the registered experiments that have one, in run order, and
// the embedded scripts exactly their twins.
func TestDocListsPythonTwins(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "doc.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(f.Doc.Text()), " ")
	m := regexp.MustCompile(`Python twins \(embedded from python/\) of these experiments: (.+?), and adds`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("the package doc no longer lists the experiments with a Python twin in the expected sentence:\n%s", doc)
	}
	listed := strings.Split(strings.ReplaceAll(m[1], " and ", ", "), ", ")

	var want []string
	for _, name := range lab.Names() {
		if _, ok := lab.PythonTwins[name]; ok {
			want = append(want, name)
		}
	}
	if !slices.Equal(listed, want) {
		t.Errorf("package doc lists Python twins for %q; the registered experiments with one are %q", listed, want)
	}
	for name := range lab.PythonTwins {
		if !slices.Contains(lab.Names(), name) {
			t.Errorf("Python twin for %q, which is not a registered experiment", name)
		}
	}
	scripts, err := lab.PythonScripts()
	if err != nil {
		t.Fatal(err)
	}
	twins := slices.Sorted(maps.Values(lab.PythonTwins))
	if !slices.Equal(scripts, twins) {
		t.Errorf("embedded scripts %q, twins' scripts %q", scripts, twins)
	}
}
