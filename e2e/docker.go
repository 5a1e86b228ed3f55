package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Docker drives the Docker CLI (and compose) through os/exec: no SDK, so
// the runner works with whatever client the machine has, and every action
// it takes is a command one can retype by hand.
type Docker struct {
	// compose is the compose command: ["docker", "compose"] where the
	// plugin exists, else ["docker-compose"].
	compose []string
	// timeout bounds each command.
	timeout time.Duration
}

// ErrNoDocker means the machine cannot run the containers.
var ErrNoDocker = errors.New("docker is not available")

// NewDocker checks that the Docker CLI reaches a daemon and finds a compose
// implementation.
func NewDocker(ctx context.Context) (*Docker, error) {
	d := &Docker{timeout: 2 * time.Minute}
	if _, err := exec.LookPath("docker"); err != nil {
		return nil, fmt.Errorf("%w: no docker command on PATH (install Docker Engine with compose)", ErrNoDocker)
	}
	if out, err := d.run(ctx, "docker", "version", "--format", "{{.Server.Version}}"); err != nil {
		return nil, fmt.Errorf("%w: the docker daemon does not answer: %v", ErrNoDocker, errors.Join(err, errors.New(out)))
	}
	if _, err := d.run(ctx, "docker", "compose", "version"); err == nil {
		d.compose = []string{"docker", "compose"}
	} else if _, err := exec.LookPath("docker-compose"); err == nil {
		d.compose = []string{"docker-compose"}
	} else {
		return nil, fmt.Errorf("%w: neither the 'docker compose' plugin nor 'docker-compose' is installed", ErrNoDocker)
	}
	return d, nil
}

// ComposeCommand is the compose command line in use.
func (d *Docker) ComposeCommand() string { return strings.Join(d.compose, " ") }

// run executes a command and returns its combined output.
func (d *Docker) run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	s := strings.TrimSpace(out.String())
	if err != nil {
		if len(s) > 2000 {
			s = s[:2000] + "…"
		}
		return s, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, s)
	}
	return s, nil
}

// docker runs one docker subcommand.
func (d *Docker) docker(ctx context.Context, args ...string) (string, error) {
	return d.run(ctx, "docker", args...)
}

// Compose runs a compose subcommand for a project and file.
func (d *Docker) Compose(ctx context.Context, project, file string, args ...string) (string, error) {
	full := append(append(append([]string{}, d.compose[1:]...), "-p", project, "-f", file), args...)
	return d.run(ctx, d.compose[0], full...)
}

// Kill sends a signal ("KILL", "TERM") to containers.
func (d *Docker) Kill(ctx context.Context, signal string, containers ...string) error {
	_, err := d.docker(ctx, append([]string{"kill", "--signal", signal}, containers...)...)
	return err
}

// Stop stops containers cleanly (SIGTERM, then SIGKILL after the grace).
func (d *Docker) Stop(ctx context.Context, containers ...string) error {
	_, err := d.docker(ctx, append([]string{"stop", "--time", "15"}, containers...)...)
	return err
}

// Start starts created or stopped containers.
func (d *Docker) Start(ctx context.Context, containers ...string) error {
	_, err := d.docker(ctx, append([]string{"start"}, containers...)...)
	return err
}

// Pause freezes containers' processes (cgroup freezer).
func (d *Docker) Pause(ctx context.Context, containers ...string) error {
	_, err := d.docker(ctx, append([]string{"pause"}, containers...)...)
	return err
}

// Unpause thaws containers.
func (d *Docker) Unpause(ctx context.Context, containers ...string) error {
	_, err := d.docker(ctx, append([]string{"unpause"}, containers...)...)
	return err
}

// Disconnect removes a container from a network.
func (d *Docker) Disconnect(ctx context.Context, network, container string) error {
	_, err := d.docker(ctx, "network", "disconnect", network, container)
	return err
}

// Connect attaches a container to a network with a fixed address.
func (d *Docker) Connect(ctx context.Context, network, container, ip string) error {
	_, err := d.docker(ctx, "network", "connect", "--ip", ip, network, container)
	return err
}

// ContainerState is what docker inspect says about a container.
type ContainerState struct {
	Running  bool
	Paused   bool
	ExitCode int
	Pid      int
}

// Inspect reads a container's state.
func (d *Docker) Inspect(ctx context.Context, container string) (ContainerState, error) {
	out, err := d.docker(ctx, "inspect", "--format", "{{.State.Running}} {{.State.Paused}} {{.State.ExitCode}} {{.State.Pid}}", container)
	if err != nil {
		return ContainerState{}, err
	}
	f := strings.Fields(out)
	if len(f) != 4 {
		return ContainerState{}, fmt.Errorf("docker inspect %s: unexpected output %q", container, out)
	}
	var st ContainerState
	st.Running, st.Paused = f[0] == "true", f[1] == "true"
	if st.ExitCode, err = strconv.Atoi(f[2]); err != nil {
		return st, fmt.Errorf("docker inspect %s: exit code %q", container, f[2])
	}
	if st.Pid, err = strconv.Atoi(f[3]); err != nil {
		return st, fmt.Errorf("docker inspect %s: pid %q", container, f[3])
	}
	return st, nil
}

// BuildImage runs the repository's image build script (deploy/build.sh
// --image-only): the static binary and the FROM scratch image.
func (d *Docker) BuildImage(ctx context.Context, repo string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "deploy/build.sh", "--image-only")
	cmd.Dir = repo
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("deploy/build.sh --image-only: %w\n%s", err, out.String())
	}
	return out.String(), nil
}
