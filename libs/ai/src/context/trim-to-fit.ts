import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';

type Message = ChatCompletionMessageParam;

export interface Trimmed {
  kept: Message[];
  removed: Message[];
}

/**
 * Drops the oldest turns until the conversation costs at most `budget` tokens. Never drops a
 * system or developer message, nor the last user message and what follows it, and never
 * separates an assistant's tool calls from their results: those go together or not at all.
 * Returns undefined when even the untouchable messages exceed the budget.
 */
export function trimToFit(messages: Message[], budget: number, costOf: (message: Message) => number, fixedCost = 0): Trimmed | undefined {
  const costs = messages.map(costOf);
  let total = fixedCost + costs.reduce((sum, cost) => sum + cost, 0);
  const removedIndexes = new Set<number>();
  for (const unit of droppableUnits(messages)) {
    if (total <= budget) break;
    for (const index of unit) {
      removedIndexes.add(index);
      total -= costs[index];
    }
  }
  if (total > budget) return undefined;
  return {
    kept: messages.filter((_, index) => !removedIndexes.has(index)),
    removed: messages.filter((_, index) => removedIndexes.has(index)),
  };
}

/** The messages that may go, oldest first, grouped so that a tool call and its results leave together. */
export function droppableUnits(messages: Message[]): number[][] {
  const lastUser = messages.map((message) => message.role).lastIndexOf('user');
  const units: number[][] = [];
  for (let index = 0; index < lastUser; index++) {
    const message = messages[index];
    if (message.role === 'system' || message.role === 'developer') continue;
    if (message.role === 'tool' && units.length > 0 && answersPreviousUnit(messages, units.at(-1)!, message)) {
      units.at(-1)!.push(index);
      continue;
    }
    units.push([index]);
  }
  return units;
}

function answersPreviousUnit(messages: Message[], unit: number[], tool: Message & { role: 'tool' }): boolean {
  const head = messages[unit[0]];
  if (head.role !== 'assistant' || !head.tool_calls) return false;
  return head.tool_calls.some((call) => call.id === tool.tool_call_id);
}
