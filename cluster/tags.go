package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrBadTag reports a worker tag or a required tag that cannot be one:
// empty, too long, or with a character other than a letter, a digit, '-'
// or '_'.
var ErrBadTag = errors.New("cluster: bad tag")

// Limits on tags: a tag set becomes subject tokens and a consumer's
// metadata, and each set a run requires is one more consumer.
const (
	maxTagLen = 64
	maxTags   = 16
)

// ParseTags reads tags as given on a command line (crew worker --tag,
// crew run --require, a -S host spec): each string a comma-separated list.
// It returns them sorted and without repeats, the canonical form that
// names a tag set on the server. An empty tag (as in "gpu,,x", "gpu," or
// "") is an error, as is a tag with a character other than a letter, a
// digit, '-' or '_', or more than 16 tags.
func ParseTags(lists []string) ([]string, error) {
	var tags []string
	for _, l := range lists {
		for t := range strings.SplitSeq(l, ",") {
			if err := checkTag(t); err != nil {
				return nil, fmt.Errorf("%w %q in %q: %v", ErrBadTag, t, l, err)
			}
			tags = append(tags, t)
		}
	}
	slices.Sort(tags)
	tags = slices.Compact(tags)
	if len(tags) > maxTags {
		return nil, fmt.Errorf("%w: %d tags, at most %d", ErrBadTag, len(tags), maxTags)
	}
	return tags, nil
}

func checkTag(t string) error {
	if t == "" {
		return errors.New("a tag must not be empty")
	}
	if len(t) > maxTagLen {
		return fmt.Errorf("longer than %d bytes", maxTagLen)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("only letters, digits, '-' and '_' may be used, not %q", c)
		}
	}
	return nil
}
