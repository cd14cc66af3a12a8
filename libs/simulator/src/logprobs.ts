export interface TopLogprob {
  token: string;
  logprob: number;
  /** The token's UTF-8 bytes. */
  bytes: number[];
}

export interface TokenLogprob extends TopLogprob {
  top_logprobs: TopLogprob[];
}

/** Tokens the alternatives are drawn from: more than the 20 `top_logprobs` allows, so that 20 remain besides the chosen one. */
const ALTERNATIVES = [
  ' the', ' a', ' and', ' of', ' to', ' in', ' is', ' it', ' that', ' for', ' on', ' with', ' as', ' was', ' at', ' by', ' be',
  ' this', ' or', ' an', ' not',
];

/**
 * Deterministic logprobs for each written piece: the chosen token is the likeliest (its logprob closest to 0,
 * the first of its `top` alternatives), the others fall away one nat at a time.
 */
export function logprobsOf(pieces: readonly string[], top: number): TokenLogprob[] {
  return pieces.map((token, position) => {
    const logprob = -round(0.0001 + (position % 7) * 0.05);
    const others = ALTERNATIVES.filter((alternative) => alternative !== token).slice(0, Math.max(top - 1, 0));
    const top_logprobs =
      top === 0 ? [] : [entry(token, logprob), ...others.map((alternative, rank) => entry(alternative, round(logprob - rank - 1)))];
    return { ...entry(token, logprob), top_logprobs };
  });
}

function entry(token: string, logprob: number): TopLogprob {
  return { token, logprob, bytes: [...Buffer.from(token, 'utf8')] };
}

function round(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}
