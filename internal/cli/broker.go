package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(owner of crew broker): replace this placeholder with the real command.
func newBrokerCmd(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "broker",
		Short: "not built yet",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("broker: not built yet")
		},
	}
}
