package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner of crew worker): replace this placeholder with the real command.
func newWorkerCmd(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "not built yet",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("worker: not built yet")
		},
	}
}
