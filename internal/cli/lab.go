package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner of crew lab): replace this placeholder with the real command.
func newLabCmd(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "lab",
		Short: "not built yet",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("lab: not built yet")
		},
	}
}
