# imgsift: build with dev dependencies (npm ci runs `prepare`, i.e. tsc), run on a slim Node 20.
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc tsconfig.json ./
COPY src ./src
COPY bin ./bin
RUN npm ci

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: `prepare` (tsc) ran in the build stage and dist/ comes from there; the native
# packages (sharp, duckdb, usearch, onnxruntime) load prebuilt binaries shipped inside them.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
# Recipes, images and workdirs are mounted (a shared volume or PVC at /data).
WORKDIR /data
ENTRYPOINT ["node", "/app/bin/imgsift.js"]
CMD ["--help"]
