package report

import "crew/lab"

// HTML is being written.
func HTML(dir string, r *lab.Report) error {
	if r == nil {
		return ErrNilReport
	}
	return nil
}
