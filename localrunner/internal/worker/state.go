package worker

import (
	"context"
	"io"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/userstate"
)

// stateReader is the exec.StateReader of a bundle with side inputs, user
// state, or both.
type stateReader struct {
	noState
	sides *SideInputs    // nil without side inputs
	user  *userstate.Txn // nil without user state
	stage *plan.Stage
}

func newStateReader(b *Bundle) exec.StateReader {
	switch {
	case b.State == nil && b.SideInputs == nil:
		return noState{}
	case b.State == nil:
		return b.SideInputs
	}
	return &stateReader{sides: b.SideInputs, user: b.State, stage: b.Stage}
}

func (s *stateReader) OpenIterableSideInput(ctx context.Context, id exec.StreamID, local string, w []byte) (io.ReadCloser, error) {
	if s.sides == nil {
		return nil, errNoState
	}
	return s.sides.OpenIterableSideInput(ctx, id, local, w)
}

func (s *stateReader) OpenMultiMapSideInput(ctx context.Context, id exec.StreamID, local string, key, w []byte) (io.ReadCloser, error) {
	if s.sides == nil {
		return nil, errNoState
	}
	return s.sides.OpenMultiMapSideInput(ctx, id, local, key, w)
}

// cell is the state cell a request names. Cells are keyed by the unique
// name of their transform, not its ID: a change elsewhere in the pipeline
// may renumber the IDs, and durable state must not then reach another
// transform.
func (s *stateReader) cell(id exec.StreamID, userStateID string, key, w []byte) userstate.Key {
	name := id.PtransformID
	for i, t := range s.stage.Transforms {
		if t == id.PtransformID {
			name = s.stage.Names[i]
			break
		}
	}
	return userstate.Key{Transform: name, State: userStateID, Key: string(key), Window: string(w)}
}

func (s *stateReader) OpenBagUserStateReader(_ context.Context, id exec.StreamID, userStateID string, key, w []byte) (io.ReadCloser, error) {
	return s.user.BagReader(s.cell(id, userStateID, key, w)), nil
}

func (s *stateReader) OpenBagUserStateAppender(_ context.Context, id exec.StreamID, userStateID string, key, w []byte) (io.Writer, error) {
	return s.user.BagAppender(s.cell(id, userStateID, key, w)), nil
}

func (s *stateReader) OpenBagUserStateClearer(_ context.Context, id exec.StreamID, userStateID string, key, w []byte) (io.Writer, error) {
	return s.user.BagClearer(s.cell(id, userStateID, key, w)), nil
}

func (s *stateReader) OpenMultimapUserStateReader(_ context.Context, id exec.StreamID, userStateID string, key, w, mk []byte) (io.ReadCloser, error) {
	return s.user.MultimapReader(s.cell(id, userStateID, key, w), string(mk)), nil
}

func (s *stateReader) OpenMultimapUserStateAppender(_ context.Context, id exec.StreamID, userStateID string, key, w, mk []byte) (io.Writer, error) {
	return s.user.MultimapAppender(s.cell(id, userStateID, key, w), string(mk)), nil
}

func (s *stateReader) OpenMultimapUserStateClearer(_ context.Context, id exec.StreamID, userStateID string, key, w, mk []byte) (io.Writer, error) {
	return s.user.MultimapClearer(s.cell(id, userStateID, key, w), string(mk)), nil
}

func (s *stateReader) OpenMultimapKeysUserStateReader(_ context.Context, id exec.StreamID, userStateID string, key, w []byte) (io.ReadCloser, error) {
	return s.user.MultimapKeysReader(s.cell(id, userStateID, key, w)), nil
}

func (s *stateReader) OpenMultimapKeysUserStateClearer(_ context.Context, id exec.StreamID, userStateID string, key, w []byte) (io.Writer, error) {
	return s.user.MultimapKeysClearer(s.cell(id, userStateID, key, w)), nil
}

func (s *stateReader) OpenOrderedListUserStateReader(_ context.Context, id exec.StreamID, userStateID string, key, w []byte, start, end int64) (io.ReadCloser, error) {
	return s.user.OrderedListReader(s.cell(id, userStateID, key, w), start, end), nil
}

func (s *stateReader) OpenOrderedListUserStateAppender(_ context.Context, id exec.StreamID, userStateID string, key, w []byte) (io.Writer, error) {
	return s.user.OrderedListAppender(s.cell(id, userStateID, key, w)), nil
}

func (s *stateReader) OpenOrderedListUserStateClearer(_ context.Context, id exec.StreamID, userStateID string, key, w []byte, start, end int64) (io.Writer, error) {
	return s.user.OrderedListClearer(s.cell(id, userStateID, key, w), start, end), nil
}

func (s *stateReader) GetSideInputCache() exec.SideCache { return noCache{} }
