# Gateway image: build with the dev toolchain, run on production dependencies only, as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig*.json ./
COPY libs/ai/package.json libs/ai/tsconfig.build.json libs/ai/
COPY libs/simulator/package.json libs/simulator/tsconfig.build.json libs/simulator/
RUN npm ci --no-audit --no-fund
# Sources only: a .tsbuildinfo left by a local build would tell tsc -b that a library is built while its dist is not here.
COPY src src
COPY libs/ai/src libs/ai/src
COPY libs/simulator/src libs/simulator/src
COPY console console
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules node_modules
COPY --from=build --chown=node:node /app/dist dist
COPY --from=build --chown=node:node /app/libs/ai/package.json /app/libs/ai/
COPY --from=build --chown=node:node /app/libs/ai/dist /app/libs/ai/dist
COPY --from=build --chown=node:node /app/libs/simulator/package.json /app/libs/simulator/
COPY --from=build --chown=node:node /app/libs/simulator/dist /app/libs/simulator/dist
# The admin console, served at /console with CONSOLE_ENABLED=true (off by default in production).
COPY --from=build --chown=node:node /app/console/dist console/dist
COPY --chown=node:node config config
USER node
EXPOSE 3000
CMD ["node", "dist/main.js"]
