import { useCallback, useEffect, useState } from 'react';

export interface Resource<T> {
  /** The last answer for the current key; undefined while the first one loads or after an error. */
  data?: T;
  error?: string;
  reload(): void;
}

interface Loaded<T> {
  key: string;
  data?: T;
  error?: string;
}

/**
 * Loads `load()`, again when `key` changes (what the load depends on, e.g. the tenant's id) and on
 * `reload()`. A reload keeps the data shown until the new answer; an answer for an older key is dropped.
 */
export function useResource<T>(load: () => Promise<T>, key: string): Resource<T> {
  const [loaded, setLoaded] = useState<Loaded<T>>();
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (data) => current && setLoaded({ key, data }),
      (error: unknown) => current && setLoaded({ key, error: messageOf(error) }),
    );
    return () => {
      current = false;
    };
    // `load` is a new function at every render: `key` says when it reads something else.
  }, [key, generation]);
  const reload = useCallback(() => setGeneration((previous) => previous + 1), []);
  const fresh = loaded?.key === key ? loaded : undefined;
  return { data: fresh?.data, error: fresh?.error, reload };
}

export interface Action {
  busy: boolean;
  error?: string;
  /** Runs `action` unless one is running; resolves to whether it succeeded, its error shown in `error`. */
  run(action: () => Promise<unknown>): Promise<boolean>;
}

/** What a button or a form does: busy while it runs, with the gateway's message when it fails. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const run = async (action: () => Promise<unknown>): Promise<boolean> => {
    if (busy) return false;
    setBusy(true);
    setError(undefined);
    try {
      await action();
      return true;
    } catch (caught) {
      setError(messageOf(caught));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
