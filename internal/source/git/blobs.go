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
// In a partial clone it first lists the objects present, so that it never
// asks git for one it would try to fetch; should git die anyway, the
// reader restarts it.
type blobReader struct {
	ctx     context.Context
	repo    *Repo
	present map[string]bool // partial clones only: blobs that are here
	cmd     *exec.Cmd
	pipe    io.WriteCloser
	in      *bufio.Writer
	out     *bufio.Reader
	buf     []byte
}

func (r *Repo) newBlobReader(ctx context.Context) (*blobReader, error) {
	b := &blobReader{ctx: ctx, repo: r}
	if r.Partial {
		out, err := runGit(ctx, r.Dir, "cat-file", "--batch-check=%(objectname) %(objecttype)", "--batch-all-objects", "--unordered")
		if err != nil {
			return nil, fmt.Errorf("list objects of a partial clone: %w", err)
		}
		b.present = map[string]bool{}
		for _, line := range strings.Split(string(out), "\n") {
			if id, typ, ok := strings.Cut(line, " "); ok && typ == "blob" {
				b.present[id] = true
			}
		}
	}
	if err := b.start(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *blobReader) start() error {
	r, ctx := b.repo, b.ctx
	cmd := exec.CommandContext(ctx, "git", "cat-file", "--batch")
	cmd.Dir = r.Dir
	cmd.Env = gitEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start git cat-file: %w", err)
	}
	b.cmd, b.pipe, b.in, b.out = cmd, in, bufio.NewWriter(in), bufio.NewReaderSize(out, 1<<20)
	return nil
}

// read returns the content of the blob with the given id. The slice is only
// valid until the next call.
func (b *blobReader) read(id string) ([]byte, error) {
	if b.present != nil && !b.present[id] {
		return nil, fmt.Errorf("blob %s: %w (partial clone)", id, ErrMissingObject)
	}
	content, err := b.readOnce(id)
	var pe *protocolError
	if errors.As(err, &pe) {
		// git died or spoke out of turn: restart it for the next reads.
		_ = b.close()
		if serr := b.start(); serr != nil {
			return nil, errors.Join(err, serr)
		}
	}
	return content, err
}

// protocolError is a failure of the conversation with git, after which the
// process cannot be trusted.
type protocolError struct{ err error }

func (e *protocolError) Error() string { return "git cat-file: " + e.err.Error() }
func (e *protocolError) Unwrap() error { return e.err }

func (b *blobReader) readOnce(id string) ([]byte, error) {
	if err := b.request(id); err != nil {
		return nil, err
	}
	if err := b.flush(); err != nil {
		return nil, err
	}
	return b.receive(id)
}

// request asks for a blob without waiting for it; flush sends the requests,
// and receive reads the answers in the order they were requested. Missing
// blobs of a partial clone are neither requested nor received.
func (b *blobReader) request(id string) error {
	if b.present != nil && !b.present[id] {
		return nil
	}
	if _, err := b.in.WriteString(id + "\n"); err != nil {
		return &protocolError{err}
	}
	return nil
}

func (b *blobReader) flush() error {
	if err := b.in.Flush(); err != nil {
		return &protocolError{err}
	}
	return nil
}

// receive reads the answer to the oldest request, which must be id's.
func (b *blobReader) receive(id string) ([]byte, error) {
	if b.present != nil && !b.present[id] {
		return nil, fmt.Errorf("blob %s: %w (partial clone)", id, ErrMissingObject)
	}
	header, err := b.out.ReadString('\n')
	if err != nil {
		return nil, &protocolError{err}
	}
	f := strings.Fields(header)
	if len(f) > 0 && f[0] != id {
		return nil, &protocolError{fmt.Errorf("asked for %s, got %q", id, header)}
	}
	if len(f) == 2 && f[1] == "missing" {
		return nil, fmt.Errorf("blob %s: %w", id, ErrMissingObject)
	}
	if len(f) != 3 {
		return nil, &protocolError{fmt.Errorf("unexpected header %q", header)}
	}
	size, err := strconv.Atoi(f[2])
	if err != nil {
		return nil, &protocolError{fmt.Errorf("unexpected header %q", header)}
	}
	if size > MaxBlobSize {
		if _, err := b.out.Discard(size + 1); err != nil {
			return nil, &protocolError{err}
		}
		return nil, fmt.Errorf("blob %s (%d bytes): %w", id, size, ErrTooLarge)
	}
	if cap(b.buf) < size+1 {
		b.buf = make([]byte, size+1)
	}
	buf := b.buf[:size+1]
	if _, err := io.ReadFull(b.out, buf); err != nil {
		return nil, &protocolError{err}
	}
	if buf[size] != '\n' {
		return nil, &protocolError{errors.New("blob not followed by a newline")}
	}
	return bytes.TrimSuffix(buf, []byte{'\n'}), nil
}

func (b *blobReader) close() error {
	_ = b.in.Flush()
	_ = b.pipe.Close()
	return b.cmd.Wait()
}
