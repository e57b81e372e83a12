package cluster_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"crew/cluster"
)

// FuzzParseTags: whatever a user types after --tag or --require, ParseTags
// returns ErrBadTag or tags that are sorted, unique, made of allowed
// characters, each one of the input's, and that parse to themselves.
func FuzzParseTags(f *testing.F) {
	for _, s := range []string{"gpu", "gpu,bigmem", "b,a,b", "", ",", "gpu,,x", "g.u", "a-b_C9", "é", "x>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := cluster.ParseTags([]string{s})
		if err != nil {
			if !errors.Is(err, cluster.ErrBadTag) {
				t.Fatalf("ParseTags(%q): %v, not ErrBadTag", s, err)
			}
			return
		}
		if len(tags) == 0 || !slices.IsSorted(tags) || len(slices.Compact(slices.Clone(tags))) != len(tags) {
			t.Fatalf("ParseTags(%q) = %q: not a sorted, non-empty set", s, tags)
		}
		in := strings.Split(s, ",")
		for _, tag := range tags {
			if !slices.Contains(in, tag) || strings.Trim(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
				t.Fatalf("ParseTags(%q) gave tag %q", s, tag)
			}
		}
		again, err := cluster.ParseTags([]string{strings.Join(tags, ",")})
		if err != nil || !slices.Equal(again, tags) {
			t.Fatalf("ParseTags(%q) = %q, which parses to %q, %v", s, tags, again, err)
		}
	})
}

func ExampleParseTags() {
	tags, err := cluster.ParseTags([]string{"gpu,bigmem", "gpu"})
	fmt.Println(tags, err)
	_, err = cluster.ParseTags([]string{"gpu,"})
	fmt.Println(err)
	// Output:
	// [bigmem gpu] <nil>
	// cluster: bad tag "" in "gpu,": a tag must not be empty
}
