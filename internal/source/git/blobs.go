package git

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// ErrMissingObject means the repository lacks an object (a partial clone
// without the blob, a damaged repository).
var ErrMissingObject = errors.New("object missing from the repository")

// MaxBlobSize bounds the files read; larger ones are skipped and reported.
const MaxBlobSize = 8 << 20

// ErrTooLarge means a blob is over MaxBlobSize.
var ErrTooLarge = errors.New("file larger than 8 MiB")

// blobReader reads blobs through one long-running `git cat-file --batch`.
type blobReader struct {
	cmd  *exec.Cmd
	pipe io.WriteCloser
	in   *bufio.Writer
	out  *bufio.Reader
	buf  []byte
}

func (r *Repo) newBlobReader(ctx context.Context) (*blobReader, error) {
	cmd := exec.CommandContext(ctx, "git", "cat-file", "--batch")
	cmd.Dir = r.Dir
	cmd.Env = gitEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start git cat-file: %w", err)
	}
	return &blobReader{cmd: cmd, pipe: in, in: bufio.NewWriter(in), out: bufio.NewReaderSize(out, 1<<20)}, nil
}

// read returns the content of the blob with the given id. The slice is only
// valid until the next call.
func (b *blobReader) read(id string) ([]byte, error) {
	if _, err := b.in.WriteString(id + "\n"); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	if err := b.in.Flush(); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	header, err := b.out.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	f := strings.Fields(header)
	if len(f) == 2 && f[1] == "missing" {
		return nil, fmt.Errorf("blob %s: %w", id, ErrMissingObject)
	}
	if len(f) != 3 {
		return nil, fmt.Errorf("git cat-file: unexpected header %q", header)
	}
	size, err := strconv.Atoi(f[2])
	if err != nil {
		return nil, fmt.Errorf("git cat-file: unexpected header %q", header)
	}
	if size > MaxBlobSize {
		if _, err := b.out.Discard(size + 1); err != nil {
			return nil, fmt.Errorf("git cat-file: %w", err)
		}
		return nil, fmt.Errorf("blob %s (%d bytes): %w", id, size, ErrTooLarge)
	}
	if cap(b.buf) < size+1 {
		b.buf = make([]byte, size+1)
	}
	buf := b.buf[:size+1]
	if _, err := io.ReadFull(b.out, buf); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	if buf[size] != '\n' {
		return nil, errors.New("git cat-file: blob not followed by a newline")
	}
	return bytes.TrimSuffix(buf, []byte{'\n'}), nil
}

func (b *blobReader) close() error {
	_ = b.in.Flush()
	_ = b.pipe.Close()
	return b.cmd.Wait()
}
