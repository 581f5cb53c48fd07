# Keyport. Two stages: `build` compiles the native modules and the TypeScript with the full
# toolchain; the runtime stage gets only what `node dist/src/main.js` and `npx keyport` need, and
# runs as the unprivileged `node` user. No secret is baked in: KEYPORT_SECRET, DATABASE_URL and
# REDIS_URL come from the environment at run time (see docker-compose.yml and docs/docker.md).
# Node 24 LTS, the newest line Keyport supports (package.json engines); CI tests it too.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# bcrypt ships prebuilt binaries; better-sqlite3 is compiled here.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY packages/verify/package.json packages/verify/
RUN npm ci --no-audit --no-fund
# .dockerignore keeps node_modules, dist, data (the development secret), .git and env files out.
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund && rm -rf node_modules/@keyport

FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/migrations ./dist/migrations
COPY --from=build /app/bin ./bin
COPY --from=build /app/views ./views
# Served as /openapi.json (read once at start; src/http/routes/api_docs.ts).
COPY --from=build /app/docs/openapi.json ./docs/openapi.json
# The code belongs to root and is read-only for the process; only the SQLite data directory (used
# when DATABASE_URL is not set) is writable by it.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--max-old-space-size=512", "--max-semi-space-size=16", "--no-allocation-site-pretenuring", "dist/src/main.js"]
