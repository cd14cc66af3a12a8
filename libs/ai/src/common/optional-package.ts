/**
 * Loads an optional peer dependency when a feature first needs it, so that an application without that feature
 * need not install it; `feature` and `install` say, in the error, what needs it and what to install.
 */
export function requireOptional<T>(name: string, feature: string, install = name): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch (error) {
    // Only the package itself missing: a failure inside it, or a dependency of its own missing, is its error to show.
    if (!String((error as Error).message).includes(`Cannot find module '${name}'`)) throw error;
    throw new Error(`The package ${name} is needed for ${feature} and is not installed: npm install ${install}`, { cause: error });
  }
}
