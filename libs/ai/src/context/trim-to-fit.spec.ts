import fc from 'fast-check';
import type { ChatCompletionMessageParam, ChatCompletionMessageToolCall } from 'openai/resources/chat/completions';
import { TokenCounter } from './token-counter';
import { droppableUnits, Trimmed, trimToFit } from './trim-to-fit';

type Message = ChatCompletionMessageParam;
type Instruction = 'system' | 'developer';

/** A deterministic cost: framing, one per character, a few per tool call. */
const costOf = (message: Message): number => 3 + textOf(message).length + (toolCallsOf(message)?.length ?? 0) * 4;

function textOf(message: Message): string {
  return typeof message.content === 'string' ? message.content : '';
}

function toolCallsOf(message: Message): ChatCompletionMessageToolCall[] | undefined {
  return message.role === 'assistant' ? message.tool_calls : undefined;
}

const isInstruction = (message: Message) => message.role === 'system' || message.role === 'developer';
const sumCost = (messages: Message[], cost = costOf) => messages.reduce((sum, message) => sum + cost(message), 0);

// --- the arbitrary conversation ------------------------------------------------------------

type Block =
  | { kind: 'instruction'; role: Instruction; length: number }
  | { kind: 'user'; length: number }
  | { kind: 'assistant'; length: number }
  /** An assistant's 1–3 tool calls and their results, optionally with an instruction among the results. */
  | { kind: 'tools'; length: number; results: number[]; instructionAt: number | null; instructionRole: Instruction };

const text = fc.nat({ max: 60 });
const instruction = fc.record({ kind: fc.constant('instruction' as const), role: fc.constantFrom<Instruction>('system', 'developer'), length: text });
const user = fc.record({ kind: fc.constant('user' as const), length: text });
const assistant = fc.record({ kind: fc.constant('assistant' as const), length: text });
const tools = fc.record({
  kind: fc.constant('tools' as const),
  length: text,
  results: fc.array(text, { minLength: 1, maxLength: 3 }),
  instructionAt: fc.option(fc.nat({ max: 3 }), { freq: 5 }),
  instructionRole: fc.constantFrom<Instruction>('system', 'developer'),
});

/** Whatever came before, the last user message, then what follows it in an agentic loop (no further user message). */
const conversation = fc
  .record({
    history: fc.array(fc.oneof(instruction, user, assistant, tools), { maxLength: 25 }),
    last: user,
    tail: fc.array(fc.oneof(instruction, assistant, tools), { maxLength: 4 }),
  })
  .map(({ history, last, tail }) => build([...history, last, ...tail]));

function build(blocks: Block[]): Message[] {
  let calls = 0;
  const messages: Message[] = [];
  const say = (length: number, seed: string) => seed.repeat(length);
  for (const block of blocks) {
    switch (block.kind) {
      case 'instruction':
        messages.push({ role: block.role, content: say(block.length, 'i') });
        break;
      case 'user':
        messages.push({ role: 'user', content: say(block.length, 'u') });
        break;
      case 'assistant':
        messages.push({ role: 'assistant', content: say(block.length, 'a') });
        break;
      case 'tools': {
        const ids = block.results.map(() => `call_${++calls}`);
        messages.push({
          role: 'assistant',
          content: block.length % 2 ? null : say(block.length, 'a'),
          tool_calls: ids.map((id) => ({ id, type: 'function', function: { name: 'lookup', arguments: '{}' } })),
        });
        block.results.forEach((length, index) => {
          if (block.instructionAt === index) messages.push({ role: block.instructionRole, content: say(3, 'i') });
          messages.push({ role: 'tool', tool_call_id: ids[index], content: say(length, 't') });
        });
        break;
      }
    }
  }
  return messages;
}

/**
 * A budget mostly between what the untouchable messages cost and what everything costs (where
 * trimming happens), sometimes a few tokens either side, sometimes anywhere from nothing up.
 */
const scenario = fc
  .record({
    messages: conversation,
    fixedCost: fc.nat({ max: 20 }),
    ratio: fc.double({ min: 0, max: 1, noNaN: true }),
    slack: fc.integer({ min: -5, max: 5 }),
    anywhere: fc.nat({ max: 4 }).map((n) => n === 0),
  })
  .map(({ messages, fixedCost, ratio, slack, anywhere }) => {
    const all = fixedCost + sumCost(messages);
    const floor = fixedCost + sumCost(untouchable(messages));
    const budget = anywhere ? Math.round(all * 1.1 * ratio) : floor + Math.round((all - floor) * ratio) + slack;
    return { messages, fixedCost, budget };
  });

// --- an oracle written from the rules, not from the implementation --------------------------

function lastUserIndex(messages: Message[]): number {
  return messages.map((message) => message.role).lastIndexOf('user');
}

/** System and developer messages, and the last user message with everything after it. */
function untouchable(messages: Message[]): Message[] {
  const lastUser = lastUserIndex(messages);
  return messages.filter((message, index) => isInstruction(message) || index >= lastUser);
}

/** The message together with the assistant tool call or the results it must travel with. */
function unitOf(message: Message, messages: Message[]): Message[] {
  const head =
    message.role === 'tool' ? messages.find((candidate) => toolCallsOf(candidate)?.some((call) => call.id === message.tool_call_id)) : message;
  const calls = head && toolCallsOf(head);
  if (!head || !calls) return [message];
  const ids = new Set(calls.map((call) => call.id));
  return [head, ...messages.filter((candidate) => candidate.role === 'tool' && ids.has(candidate.tool_call_id))];
}

/** Kept and removed, merged back by position, must give the input: both are subsequences that partition it. */
function partitionsInOrder(input: Message[], { kept, removed }: Trimmed): boolean {
  let k = 0;
  let r = 0;
  for (const message of input) {
    if (kept[k] === message) k++;
    else if (removed[r] === message) r++;
    else return false;
  }
  return k === kept.length && r === removed.length;
}

const RUNS = { numRuns: 500 };

describe(trimToFit.name, () => {
  describe('properties', () => {
    it('should keep every system and developer message, in order', () => {
      fc.assert(
        fc.property(scenario, ({ messages, budget, fixedCost }) => {
          const result = trimToFit(messages, budget, costOf, fixedCost);
          if (!result) return;
          expect(result.kept.filter(isInstruction)).toEqual(messages.filter(isInstruction));
          expect(result.removed.some(isInstruction)).toBe(false);
        }),
        RUNS,
      );
    });

    it('should keep the last user message and everything after it', () => {
      fc.assert(
        fc.property(scenario, ({ messages, budget, fixedCost }) => {
          const result = trimToFit(messages, budget, costOf, fixedCost);
          if (!result) return;
          const tail = messages.slice(lastUserIndex(messages));
          expect(result.kept.slice(-tail.length)).toEqual(tail);
          expect(result.kept.at(-tail.length)).toBe(messages[lastUserIndex(messages)]);
        }),
        RUNS,
      );
    });

    it('should return a result within the budget, or undefined only when the untouchable messages alone exceed it', () => {
      fc.assert(
        fc.property(scenario, ({ messages, budget, fixedCost }) => {
          const result = trimToFit(messages, budget, costOf, fixedCost);
          if (result) expect(fixedCost + sumCost(result.kept)).toBeLessThanOrEqual(budget);
          else expect(fixedCost + sumCost(untouchable(messages))).toBeGreaterThan(budget);
        }),
        RUNS,
      );
    });

    it('should never keep a tool result without its tool call, nor a tool call without its results', () => {
      fc.assert(
        fc.property(scenario, ({ messages, budget, fixedCost }) => {
          const result = trimToFit(messages, budget, costOf, fixedCost);
          if (!result) return;
          const keptCallIds = new Set(result.kept.flatMap((message) => toolCallsOf(message)?.map((call) => call.id) ?? []));
          const keptResultIds = new Set(result.kept.flatMap((message) => (message.role === 'tool' ? [message.tool_call_id] : [])));
          expect([...keptResultIds].filter((id) => !keptCallIds.has(id))).toEqual([]);
          expect([...keptCallIds].filter((id) => !keptResultIds.has(id))).toEqual([]);
        }),
        RUNS,
      );
    });

    it('should split the input into kept and removed, each in the input order', () => {
      fc.assert(
        fc.property(scenario, ({ messages, budget, fixedCost }) => {
          const result = trimToFit(messages, budget, costOf, fixedCost);
          if (!result) return;
          expect(result.kept.length + result.removed.length).toBe(messages.length);
          expect(partitionsInOrder(messages, result)).toBe(true);
        }),
        RUNS,
      );
    });

    it('should remove the oldest turns, and no more than needed', () => {
      fc.assert(
        fc.property(scenario, ({ messages, budget, fixedCost }) => {
          const result = trimToFit(messages, budget, costOf, fixedCost);
          if (!result || result.removed.length === 0) return;
          const newestRemoved = messages.indexOf(result.removed.at(-1)!);
          const olderDroppable = messages.slice(0, newestRemoved).filter((message) => !isInstruction(message));
          expect(olderDroppable.filter((message) => !result.removed.includes(message))).toEqual([]);
          // Putting back the most recently removed unit (a turn, or a tool call with its results) must not fit.
          const putBack = unitOf(result.removed.at(-1)!, messages);
          expect(fixedCost + sumCost(result.kept) + sumCost(putBack)).toBeGreaterThan(budget);
        }),
        RUNS,
      );
    });

    it('should hold with real token counts and text as well', () => {
      const counter = new TokenCounter();
      const realCost = (message: Message) => counter.countMessage(message);
      const wordy = conversation.chain((messages) =>
        fc
          .tuple(
            fc.array(fc.lorem({ maxCount: 30 }), { minLength: messages.length, maxLength: messages.length }),
            fc.double({ min: 0, max: 1.1, noNaN: true }),
          )
          .map(([texts, ratio]) => {
            const worded = messages.map((message, index): Message => (typeof message.content === 'string' ? ({ ...message, content: texts[index] } as Message) : message));
            const floor = 3 + sumCost(untouchable(worded), realCost);
            return { messages: worded, budget: floor - 2 + Math.round((3 + sumCost(worded, realCost) - floor) * ratio) };
          }),
      );
      fc.assert(
        fc.property(wordy, ({ messages, budget }) => {
          const result = trimToFit(messages, budget, realCost, 3);
          if (!result) return expect(3 + sumCost(untouchable(messages), realCost)).toBeGreaterThan(budget);
          expect(3 + sumCost(result.kept, realCost)).toBeLessThanOrEqual(budget);
          expect(result.kept.filter(isInstruction)).toEqual(messages.filter(isInstruction));
          expect(result.kept.at(-1)).toBe(messages.at(-1));
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('examples', () => {
    const system: Message = { role: 'system', content: 'sss' };
    const u1: Message = { role: 'user', content: 'u1u1u1u1u1' };
    const a1: Message = { role: 'assistant', content: 'a1a1a1a1a1' };
    const u2: Message = { role: 'user', content: 'u2u2u2u2u2' };
    const a2: Message = { role: 'assistant', content: 'a2a2a2a2a2' };
    const last: Message = { role: 'user', content: 'last' };

    it('should remove nothing when the conversation fits', () => {
      const messages = [system, u1, a1, last];

      expect(trimToFit(messages, sumCost(messages), costOf)).toEqual({ kept: messages, removed: [] });
    });

    it('should drop the oldest turn first, and only it when that is enough', () => {
      const messages = [system, u1, a1, u2, a2, last];

      expect(trimToFit(messages, sumCost(messages) - 1, costOf)).toEqual({ kept: [system, a1, u2, a2, last], removed: [u1] });
    });

    it('should count the fixed cost against the budget', () => {
      const messages = [system, u1, a1, last];

      expect(trimToFit(messages, sumCost(messages), costOf, 1)?.removed).toEqual([u1]);
    });

    it('should drop a tool call together with its results', () => {
      const call: Message = {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } },
          { id: 'c2', type: 'function', function: { name: 'f', arguments: '{}' } },
        ],
      };
      const r1: Message = { role: 'tool', tool_call_id: 'c1', content: 'r1' };
      const note: Message = { role: 'developer', content: 'note' };
      const r2: Message = { role: 'tool', tool_call_id: 'c2', content: 'r2' };
      const messages = [system, u1, call, r1, note, r2, u2, last];

      // Dropping u1 and the call alone would do; its results must go with it.
      const result = trimToFit(messages, sumCost(messages) - costOf(u1) - 1, costOf);

      expect(result).toEqual({ kept: [system, note, u2, last], removed: [u1, call, r1, r2] });
      expect(droppableUnits(messages)).toEqual([[1], [2, 3, 5], [6]]);
    });

    it('should keep the tool loop that follows the last user message', () => {
      const call: Message = { role: 'assistant', content: null, tool_calls: [{ id: 'c9', type: 'function', function: { name: 'f', arguments: '{}' } }] };
      const result: Message = { role: 'tool', tool_call_id: 'c9', content: 'r9' };
      const messages = [system, u1, a1, last, call, result];

      expect(trimToFit(messages, costOf(system) + costOf(last) + costOf(call) + costOf(result), costOf)).toEqual({
        kept: [system, last, call, result],
        removed: [u1, a1],
      });
    });

    it('should return undefined when the system message and the last user turn alone exceed the budget', () => {
      expect(trimToFit([system, u1, a1, last], costOf(system) + costOf(last) - 1, costOf)).toBeUndefined();
    });

    it('should return undefined for a negative budget (a completion larger than the window)', () => {
      expect(trimToFit([last], -1, costOf)).toBeUndefined();
    });
  });
});
