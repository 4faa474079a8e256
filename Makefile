.PHONY: serve test test-fast lint typecheck bench faults migrate supabase-sql clean

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

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache artifacts postplan.db*
