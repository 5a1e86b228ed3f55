package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Metric reads one unlabelled series from GET /metrics (Prometheus text
// format); found is false when the node does not export it.
func (c *Client) Metric(ctx context.Context, name string) (value float64, found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	b, err := readBody(resp.Body, c.maxBody)
	if err != nil {
		return 0, false, fmt.Errorf("GET /metrics: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, false, newError(resp.StatusCode, b)
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), name)
		if !ok || !strings.HasPrefix(rest, " ") {
			continue
		}
		if _, err := fmt.Sscan(rest, &value); err != nil {
			return 0, false, fmt.Errorf("metric %s: %q: %w", name, line, err)
		}
		return value, true, nil
	}
	return 0, false, nil
}

// StreamEvent is one server-sent event of the block stream: its name
// ("block", "dropped", "error", ...) and its data (JSON; for "block" an
// api.BlockResponse).
type StreamEvent struct {
	Event string
	Data  []byte
}

// Stream opens GET /v1/blocks/stream and calls fn for each event until the
// stream ends (io.ErrUnexpectedEOF), ctx is done (ctx.Err()) or fn returns
// an error (that error). connected, if not nil, is called once the node
// accepted the subscription (the HTTP answer arrived), so callers can order
// their work after it. The client's timeout does not apply: the stream is
// meant to stay open. An event longer than the client's size bound ends
// the stream with ErrResponseTooLarge.
func (c *Client) Stream(ctx context.Context, q BlockQuery, connected func(), fn func(StreamEvent) error) error {
	return c.Events(ctx, "/v1/blocks/stream"+q.encode(), connected, fn)
}

// Events opens any server-sent-event endpoint of the API at path (with
// its query) and reads it as Stream does.
func (c *Client) Events(ctx context.Context, path string, connected func(), fn func(StreamEvent) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := readBody(resp.Body, 4096)
		return newError(resp.StatusCode, b)
	}
	if connected != nil {
		connected()
	}
	err = readEvents(bufio.NewReaderSize(resp.Body, 1<<20), c.maxBody, fn)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// readEvents parses server-sent events from r, calling fn for each; an
// event's data beyond max bytes is ErrResponseTooLarge. The end of r is
// io.ErrUnexpectedEOF: the stream never ends on its own.
func readEvents(r *bufio.Reader, max int64, fn func(StreamEvent) error) error {
	var ev StreamEvent
	for {
		line, err := readLine(r, max)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		switch {
		case len(line) == 0:
			if ev.Event != "" || ev.Data != nil {
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev = StreamEvent{}
		case line[0] == ':':
		case bytes.HasPrefix(line, []byte("event:")):
			ev.Event = string(bytes.TrimSpace(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			data := bytes.TrimPrefix(line[len("data:"):], []byte(" "))
			if int64(len(ev.Data)+len(data)) > max {
				return fmt.Errorf("block stream event: %w (%d bytes)", ErrResponseTooLarge, max)
			}
			ev.Data = append(ev.Data, data...)
		}
	}
}

// readLine reads one line without its line ending; a line longer than the
// reader's buffer (a block with many transaction IDs) is gathered, up to
// max bytes.
func readLine(r *bufio.Reader, max int64) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		full := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if int64(len(full)) > max {
				return nil, fmt.Errorf("block stream line: %w (%d bytes)", ErrResponseTooLarge, max)
			}
			line, err = r.ReadSlice('\n')
			full = append(full, line...)
		}
		line = full
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}
