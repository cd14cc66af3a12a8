import type { ChatRequest, FunctionTool } from './chat-request';
import { logprobsOf } from './logprobs';
import type { ReplyChoice } from './openai-shapes';
import { sampleOf } from './schema-sample';
import { completionText, tokenizedText, type CompletionText } from './usage';

/** What the model writes, the same for every choice but the words, which differ from choice to choice. */
type Answer =
  | { kind: 'tool_call'; name: string; arguments: CompletionText & { cut: boolean } }
  | { kind: 'json'; text: CompletionText & { cut: boolean } }
  | { kind: 'words' };

/**
 * The request's `n` choices: a call of one function when tools are offered (and tool_choice is not 'none'),
 * arguments valid against its parameters; else JSON for a JSON response format; else `completionWords` words.
 */
export function writeChoices(request: ChatRequest, seq: number, completionWords: number): ReplyChoice[] {
  const answer = answerFor(request, completionWords);
  return Array.from({ length: request.n }, (_, index) => {
    const choice = choiceOf(answer, request, seq, index, completionWords);
    return request.topLogprobs === undefined ? choice : { ...choice, logprobs: logprobsOf(choice.pieces, request.topLogprobs) };
  });
}

function answerFor(request: ChatRequest, completionWords: number): Answer {
  const tool = toolToCall(request);
  if (tool) {
    // No parameters schema: a function without arguments, which OpenAI calls with "{}".
    const args = tool.parameters === undefined ? {} : sampleOf(tool.parameters);
    return { kind: 'tool_call', name: tool.name, arguments: tokenizedText(JSON.stringify(args), request.maxTokens) };
  }
  const { responseFormat } = request;
  switch (responseFormat.type) {
    case 'json_schema':
      return { kind: 'json', text: tokenizedText(JSON.stringify(sampleOf(responseFormat.schema)), request.maxTokens) };
    case 'json_object':
      return { kind: 'json', text: tokenizedText(JSON.stringify({ text: completionText(completionWords).content }), request.maxTokens) };
    case 'text':
      return { kind: 'words' };
  }
}

/**
 * 'auto' and 'required' call the first function; a forced name calls that one, with no arguments when it is
 * not among the tools (OpenAI would refuse the request; the simulator does not check what it does not need).
 */
function toolToCall({ tools, toolChoice }: ChatRequest): FunctionTool | undefined {
  if (tools.length === 0 || toolChoice === 'none') return undefined;
  if (typeof toolChoice === 'string') return tools[0];
  return tools.find((tool) => tool.name === toolChoice.name) ?? { name: toolChoice.name };
}

function choiceOf(answer: Answer, request: ChatRequest, seq: number, index: number, completionWords: number): ReplyChoice {
  switch (answer.kind) {
    case 'tool_call': {
      const { pieces, content, tokens, cut } = answer.arguments;
      const toolCall = { id: `call_sim_${seq}_${index}`, name: answer.name };
      return { pieces, content, tokens, toolCall, finishReason: cut ? 'length' : 'tool_calls' };
    }
    case 'json': {
      const { pieces, content, tokens, cut } = answer.text;
      return { pieces, content, tokens, finishReason: cut ? 'length' : 'stop' };
    }
    case 'words': {
      // One word is one token.
      const cut = request.maxTokens !== undefined && request.maxTokens < completionWords;
      const text = completionText(cut ? (request.maxTokens as number) : completionWords, index);
      return { ...text, finishReason: cut ? 'length' : 'stop' };
    }
  }
}
