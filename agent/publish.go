package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// pubAck is JetStream's answer to a message stored in a stream.
type pubAck struct {
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Error     *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error,omitempty"`
}

// parseAck checks a PubAck reply.
func parseAck(data []byte) (pubAck, error) {
	var ack pubAck
	if len(data) > maxReply {
		return ack, fmt.Errorf("acknowledgement of %d bytes", len(data))
	}
	if err := json.Unmarshal(data, &ack); err != nil {
		return ack, errors.New("malformed acknowledgement")
	}
	if ack.Error != nil {
		return ack, fmt.Errorf("stream refused the message: %s (code %d, err_code %d)",
			truncate(ack.Error.Description, maxServerMsg), ack.Error.Code, ack.Error.ErrCode)
	}
	if ack.Stream == "" || ack.Seq == 0 {
		return ack, errors.New("acknowledgement names no stream")
	}
	return ack, nil
}

// publish sends data to subject as a request and waits for the stream's
// acknowledgement, retrying with backoff (over
// reconnections) until it comes or ctx is done. what names the message in
// log lines.
func (a *Agent) publish(ctx context.Context, subject string, data []byte, what string) error {
	for attempt := 0; ; attempt++ {
		err := errors.New("not connected")
		if nc := a.conn(); nc != nil {
			// No Nats-Msg-Id: JetStream's duplicate detection spans the
			// whole stream, so an ID another agent can predict would let it
			// suppress this message. The server stores each (hunt, agent,
			// seq) once instead.
			msg := &nats.Msg{Subject: subject, Data: data}
			rctx, cancel := context.WithTimeout(ctx, requestTimeout)
			var reply *nats.Msg
			reply, err = nc.RequestMsgWithContext(rctx, msg)
			cancel()
			if err == nil {
				_, err = parseAck(reply.Data)
				if err == nil {
					return nil
				}
			}
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		d := backoff(attempt, 500*time.Millisecond)
		a.logf("%s not acknowledged: %v; retrying in %v", what, err, d.Round(time.Millisecond))
		if !sleep(ctx, d) {
			return context.Cause(ctx)
		}
	}
}
