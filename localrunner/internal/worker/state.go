package worker

import (
	"context"
	"io"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/streams-dev/streams/localrunner/internal/userstate"
)

// stateReader is the exec.StateReader of a bundle with side inputs, user
// state, or both.
type stateReader struct {
	noState
	sides *SideInputs    // nil without side inputs
	user  *userstate.Txn // nil without user state
}

func newStateReader(b *Bundle) exec.StateReader {
	switch {
	case b.State == nil && b.SideInputs == nil:
		return noState{}
	case b.State == nil:
		return b.SideInputs
	}
	return &stateReader{sides: b.SideInputs, user: b.State}
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

func cell(id exec.StreamID, userStateID string, key, w []byte) userstate.Key {
	return userstate.Key{Transform: id.PtransformID, State: userStateID, Key: string(key), Window: string(w)}
}

func (s *stateReader) OpenBagUserStateReader(_ context.Context, id exec.StreamID, userStateID string, key, w []byte) (io.ReadCloser, error) {
	return s.user.BagReader(cell(id, userStateID, key, w)), nil
}

func (s *stateReader) OpenBagUserStateAppender(_ context.Context, id exec.StreamID, userStateID string, key, w []byte) (io.Writer, error) {
	return s.user.BagAppender(cell(id, userStateID, key, w)), nil
}

func (s *stateReader) OpenBagUserStateClearer(_ context.Context, id exec.StreamID, userStateID string, key, w []byte) (io.Writer, error) {
	return s.user.BagClearer(cell(id, userStateID, key, w)), nil
}

func (s *stateReader) OpenMultimapUserStateReader(_ context.Context, id exec.StreamID, userStateID string, key, w, mk []byte) (io.ReadCloser, error) {
	return s.user.MultimapReader(cell(id, userStateID, key, w), string(mk)), nil
}

func (s *stateReader) OpenMultimapUserStateAppender(_ context.Context, id exec.StreamID, userStateID string, key, w, mk []byte) (io.Writer, error) {
	return s.user.MultimapAppender(cell(id, userStateID, key, w), string(mk)), nil
}

func (s *stateReader) OpenMultimapUserStateClearer(_ context.Context, id exec.StreamID, userStateID string, key, w, mk []byte) (io.Writer, error) {
	return s.user.MultimapClearer(cell(id, userStateID, key, w), string(mk)), nil
}

func (s *stateReader) OpenMultimapKeysUserStateReader(_ context.Context, id exec.StreamID, userStateID string, key, w []byte) (io.ReadCloser, error) {
	return s.user.MultimapKeysReader(cell(id, userStateID, key, w)), nil
}

func (s *stateReader) OpenMultimapKeysUserStateClearer(_ context.Context, id exec.StreamID, userStateID string, key, w []byte) (io.Writer, error) {
	return s.user.MultimapKeysClearer(cell(id, userStateID, key, w)), nil
}

func (s *stateReader) OpenOrderedListUserStateReader(_ context.Context, id exec.StreamID, userStateID string, key, w []byte, start, end int64) (io.ReadCloser, error) {
	return s.user.OrderedListReader(cell(id, userStateID, key, w), start, end), nil
}

func (s *stateReader) OpenOrderedListUserStateAppender(_ context.Context, id exec.StreamID, userStateID string, key, w []byte) (io.Writer, error) {
	return s.user.OrderedListAppender(cell(id, userStateID, key, w)), nil
}

func (s *stateReader) OpenOrderedListUserStateClearer(_ context.Context, id exec.StreamID, userStateID string, key, w []byte, start, end int64) (io.Writer, error) {
	return s.user.OrderedListClearer(cell(id, userStateID, key, w), start, end), nil
}

func (s *stateReader) GetSideInputCache() exec.SideCache { return noCache{} }
