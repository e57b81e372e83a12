package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner of crew sem): replace this placeholder with the real command.
func newSemCmd(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "sem",
		Short: "not built yet",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("sem: not built yet")
		},
	}
}
