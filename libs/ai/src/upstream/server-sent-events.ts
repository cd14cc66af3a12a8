/**
 * Splits a `text/event-stream` body into the `data` of its events, whatever the TCP chunks it
 * arrives in (cut inside a character, inside a line, between the two newlines that end an event).
 * Only `data` fields are kept: the chat completions stream names no events and sets no ids.
 * Lines end in `\n` or `\r\n`; a lone `\r`, which the SSE grammar also allows, no OpenAI-compatible
 * server sends.
 */
export class ServerSentEventDecoder {
  private readonly text = new TextDecoder();
  /** The start of a line whose end has not arrived yet. */
  private partialLine = '';
  /** The `data` lines of the event being read. */
  private dataLines: string[] = [];

  /** The data of every event that `bytes` completes, in order. */
  decode(bytes: Uint8Array): string[] {
    const buffer = this.partialLine + this.text.decode(bytes, { stream: true });
    const events: string[] = [];
    let start = 0;
    for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n', start)) {
      const lineEnd = end > start && buffer.charCodeAt(end - 1) === CARRIAGE_RETURN ? end - 1 : end;
      if (lineEnd === start) this.endEvent(events);
      else if (buffer.startsWith('data:', start)) {
        const valueStart = buffer.charCodeAt(start + 5) === SPACE ? start + 6 : start + 5;
        this.dataLines.push(buffer.slice(valueStart, lineEnd));
      }
      start = end + 1;
    }
    this.partialLine = buffer.slice(start);
    return events;
  }

  private endEvent(events: string[]): void {
    if (this.dataLines.length === 0) return;
    events.push(this.dataLines.length === 1 ? this.dataLines[0] : this.dataLines.join('\n'));
    this.dataLines = [];
  }
}

const CARRIAGE_RETURN = 13;
const SPACE = 32;
