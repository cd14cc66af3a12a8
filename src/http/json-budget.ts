/**
 * What one JSON body may hold before it is parsed and the validation pipe sees it.
 * class-transformer's work grows with the square of an object's key count (it de-duplicates the
 * keys with `indexOf`), and class-validator's with every value: a 150,000-key body held the event loop for 20 s. These bounds
 * keep the worst body to a few milliseconds of that work while leaving room for OpenAI's own limits
 * (a JSON Schema of 5,000 properties across its objects, 128 tools, long conversations).
 */
export interface JsonBudget {
  /** Levels of nesting: the pipe, class-transformer and class-validator all recurse. */
  maxDepth: number;
  /** Keys of one object. */
  maxKeysPerObject: number;
  /** Elements of one array. */
  maxArrayLength: number;
  /** Values in the whole body, containers included. */
  maxValues: number;
  /** Characters of one key: keys are names, never content. */
  maxKeyLength: number;
}

export const JSON_BUDGET: JsonBudget = {
  maxDepth: 128,
  maxKeysPerObject: 1_000,
  maxArrayLength: 10_000,
  maxValues: 50_000,
  maxKeyLength: 1_024,
};

export interface JsonBudgetExceeded {
  message: string;
  /** Where, as OpenAI writes a parameter (`messages[0].content`); null for the body itself. */
  param: string | null;
}

/**
 * The first bound a JSON text breaks, or undefined, found in one pass over the text before it is
 * parsed: JSON.parse itself takes tens of milliseconds over an object of 150,000 keys. The scan
 * only counts (an array's elements by its commas); the text is parsed, and refused if it is not
 * JSON, afterwards. `param` names the top-level field the excess is in.
 */
export function exceededJsonBudget(text: string, budget: JsonBudget = JSON_BUDGET): JsonBudgetExceeded | undefined {
  const open: Array<{ isObject: boolean; separators: number }> = [];
  let values = 1;
  let field: string | null = null;
  let stringStart = -1;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (stringStart >= 0) {
      if (char === BACKSLASH) index++;
      else if (char === QUOTE) {
        if (open.at(-1)?.isObject && isKeyPosition(text, stringStart)) {
          if (index - stringStart - 1 > budget.maxKeyLength) return exceeded(open.length === 1 ? null : field, `a key longer than ${budget.maxKeyLength} characters`);
          if (open.length === 1) field = parsedKey(text.slice(stringStart, index + 1));
        }
        stringStart = -1;
      }
      continue;
    }
    if (char === QUOTE) stringStart = index;
    else if (char === OPEN_BRACE || char === OPEN_BRACKET) {
      if (open.length >= budget.maxDepth) return { message: `The request body nests deeper than ${budget.maxDepth} levels.`, param: null };
      open.push({ isObject: char === OPEN_BRACE, separators: 0 });
    } else if (char === CLOSE_BRACE || char === CLOSE_BRACKET) open.pop();
    else if ((char === COLON && open.at(-1)?.isObject) || (char === COMMA && open.at(-1)?.isObject === false)) {
      const container = open.at(-1)!;
      if (++values > budget.maxValues) return { message: `The request body holds more than ${budget.maxValues} JSON values.`, param: null };
      const where = open.length === 1 ? null : field;
      // An object's keys are its colons; an array's elements, its commas and one.
      const entries = ++container.separators + (container.isObject ? 0 : 1);
      if (container.isObject && entries > budget.maxKeysPerObject) return exceeded(where, `an object of more than ${budget.maxKeysPerObject} keys`);
      if (!container.isObject && entries > budget.maxArrayLength) return exceeded(where, `an array of more than ${budget.maxArrayLength} elements`);
    }
  }
  return undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/** A string in an object is a key when what precedes it is `{` or `,`. */
function isKeyPosition(text: string, stringStart: number): boolean {
  let index = stringStart - 1;
  while (index >= 0 && isBlank(text.charCodeAt(index))) index--;
  const before = text.charCodeAt(index);
  return before === OPEN_BRACE || before === COMMA;
}

function isBlank(char: number): boolean {
  return char === 0x20 || char === 0x0a || char === 0x0d || char === 0x09;
}

function parsedKey(quoted: string): string | null {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return null;
  }
}

function exceeded(param: string | null, what: string): JsonBudgetExceeded {
  return { message: param === null ? `The request body holds ${what}.` : `Invalid '${param}': it holds ${what}.`, param };
}
