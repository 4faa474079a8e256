.PHONY: serve test test-fast lint typecheck bench faults migrate supabase-sql lock image image-test clean

serve:  ## start postplan on the embedded default (SQLite, offline planner, dev auth)
	scripts/bootstrap.sh
	.venv/bin/postplan serve

test:  ## install what the tests need and run lint, mypy and the whole suite
	scripts/test.sh

test-fast:  ## the suite without browser and fault tests
	scripts/test.sh -m "not browser and not faults"

lint:
	.venv/bin/ruff check postplan tests bench scripts

typecheck:
	.venv/bin/mypy

bench:  ## run every benchmark and compare with bench/baseline.json
	.venv/bin/python -m bench.run

faults:  ## only the fault-injection suite
	.venv/bin/pytest -m faults

migrate:
	.venv/bin/postplan migrate

supabase-sql:  ## regenerate the Supabase copy of the schema after adding a migration
	.venv/bin/python scripts/gen_supabase_sql.py

lock:  ## regenerate requirements/*.lock from pyproject.toml (needs uv), keeping .venv's versions
	scripts/lock.sh --keep-venv

image:  ## build the container image (BASE_IMAGE=... to choose the base; docs/deploy.md)
	DOCKER_BUILDKIT=1 docker build --build-arg BASE_IMAGE=$${BASE_IMAGE:-python:3.11-slim-bookworm} -t postplan:dev .

image-test:  ## build the image on a debootstrapped Debian base and run it against local Postgres
	scripts/image_test.sh

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache artifacts postplan.db* postplan.flags.json
