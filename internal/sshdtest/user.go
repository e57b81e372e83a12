package sshdtest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"sync"
	"time"

	"crew/internal/wait"
)

// ErrNoUser means a Server cannot log in as the asked account here: it
// does not exist and cannot be created (not root, or no useradd), or it
// is not the current user and this process is not root (an unprivileged
// sshd logs in only its own user). Start skips the test on it.
var ErrNoUser = errors.New("sshdtest: login unavailable")

// addMu serializes account creation within the test binary; useradd's
// own lock on /etc/passwd covers other processes.
var addMu sync.Mutex

// EnsureUser makes sure a Server can log in as the local account name and
// returns it. When the account does not exist, EnsureUser creates it as
// Debian makes one, from /etc/skel (useradd -m -s /bin/bash NAME), then
// unlocks it (usermod -p '*' NAME: no password, but sshd without PAM
// refuses an account locked with '!'). It creates accounts and never
// removes them: the next run finds the account made by the first.
//
// When the account is missing and cannot be created here, or belongs to
// another user than a non-root caller, the error wraps ErrNoUser; a
// benchmark can test for it and carry on without such hosts, where
// Start would skip.
func EnsureUser(name string) (*user.User, error) {
	cur, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("sshdtest: %w", err)
	}
	if name == cur.Username {
		return cur, nil
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: logging in as %s needs root (running as %s): an unprivileged sshd logs in only its own user", ErrNoUser, name, cur.Username)
	}
	addMu.Lock()
	defer addMu.Unlock()
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = addUser(name); err != nil {
			return nil, err
		}
	}
	if err := checkUnlocked(name); err != nil {
		return nil, err
	}
	return u, nil
}

// addUser creates the account name as root.
func addUser(name string) (*user.User, error) {
	if _, err := exec.LookPath("useradd"); err != nil {
		return nil, fmt.Errorf("%w: account %s does not exist and there is no useradd to create it (apt-get install passwd)", ErrNoUser, name)
	}
	if out, err := exec.Command("useradd", "-m", "-s", "/bin/bash", name).CombinedOutput(); err != nil {
		// Another test binary may have created it meanwhile; give it
		// the time to unlock it too.
		if u, lerr := user.Lookup(name); lerr == nil {
			wait.Until(5*time.Second, func() bool { return checkUnlocked(name) == nil })
			return u, nil
		}
		return nil, fmt.Errorf("sshdtest: useradd %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	if out, err := exec.Command("usermod", "-p", "*", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sshdtest: usermod -p '*' %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("sshdtest: account %s after useradd: %w", name, err)
	}
	return u, nil
}

// checkUnlocked fails when name's password field in /etc/shadow starts
// with '!', as useradd leaves it: sshd with UsePAM no refuses such an
// account, and the login would fail with a bare "Permission denied".
func checkUnlocked(name string) error {
	f, err := os.Open("/etc/shadow")
	if err != nil {
		return nil // no shadow file: nothing to be locked by
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), ":", 3)
		if len(fields) >= 2 && fields[0] == name && strings.HasPrefix(fields[1], "!") {
			return fmt.Errorf("sshdtest: account %s is locked ('!' in /etc/shadow), which sshd without PAM refuses: usermod -p '*' %s", name, name)
		}
	}
	return nil
}
