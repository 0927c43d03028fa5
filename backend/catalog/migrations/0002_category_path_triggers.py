"""Keep Category.path in the database, so every writer (admin, services, bulk loads, raw SQL)
gets a consistent tree and a cycle is refused even when Python validation is bypassed."""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION catalog_category_set_path() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    parent_path text;
BEGIN
    IF NEW.parent_id IS NULL THEN
        NEW.path := '/' || NEW.id || '/';
        RETURN NEW;
    END IF;
    SELECT path INTO parent_path FROM catalog_category WHERE id = NEW.parent_id;
    IF TG_OP = 'UPDATE' AND parent_path LIKE OLD.path || '%' THEN
        RAISE EXCEPTION 'category % cannot move under its own subtree', NEW.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'catalog_category_no_cycle';
    END IF;
    NEW.path := parent_path || NEW.id || '/';
    RETURN NEW;
END;
$$;

-- Moving a category rewrites its descendants' paths in the same statement (and transaction).
CREATE FUNCTION catalog_category_move_subtree() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_category
       SET path = NEW.path || substr(path, length(OLD.path) + 1)
     WHERE path LIKE OLD.path || '_%';
    RETURN NULL;
END;
$$;

CREATE TRIGGER catalog_category_path_before
    BEFORE INSERT OR UPDATE OF parent_id ON catalog_category
    FOR EACH ROW EXECUTE FUNCTION catalog_category_set_path();

CREATE TRIGGER catalog_category_path_after
    AFTER UPDATE OF parent_id ON catalog_category
    FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path)
    EXECUTE FUNCTION catalog_category_move_subtree();
"""

REVERSE = """
DROP TRIGGER catalog_category_path_after ON catalog_category;
DROP TRIGGER catalog_category_path_before ON catalog_category;
DROP FUNCTION catalog_category_move_subtree();
DROP FUNCTION catalog_category_set_path();
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=REVERSE)]
