import fc from 'fast-check';
import { ServerSentEventDecoder } from './server-sent-events';

const decodeAll = (pieces: Uint8Array[]) => {
  const decoder = new ServerSentEventDecoder();
  return pieces.flatMap((piece) => decoder.decode(piece));
};

describe(ServerSentEventDecoder.name, () => {
  const wire = Buffer.from(': comment\n\ndata: {"a":"é"}\n\nevent: message\r\ndata:{"b":\r\ndata: "👋"}\r\n\r\ndata: [DONE]\n\n');
  const expected = ['{"a":"é"}', '{"b":\n"👋"}', '[DONE]'];

  it('should yield the data of each complete event, its data lines joined by newlines', () => {
    expect(decodeAll([wire])).toEqual(expected);
  });

  it('should keep an event whose end has not arrived until it does', () => {
    const decoder = new ServerSentEventDecoder();

    expect(decoder.decode(Buffer.from('data: {"a":1}\n'))).toEqual([]);
    expect(decoder.decode(Buffer.from('\n'))).toEqual(['{"a":1}']);
  });

  it('should yield the same events however the bytes are cut', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: wire.length - 1 }), { maxLength: 12 }), (cuts) => {
        const bounds = [0, ...cuts.sort((a, b) => a - b), wire.length];
        const pieces = bounds.slice(1).map((end, i) => wire.subarray(bounds[i], end));

        expect(decodeAll(pieces)).toEqual(expected);
      }),
    );
  });
});
