package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner of crew run): replace this placeholder with the real command.
func newRunCmd(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "not built yet",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("run: not built yet")
		},
	}
}
