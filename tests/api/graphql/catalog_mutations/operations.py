"""The mutation documents the tests send, each selecting its payload and every error field."""

ERRORS = "errors { field message code availableQuantity }"
CATEGORY = "category { id name slug description position parent { id } }"
PRODUCT = (
    "product { id name slug sku description isPublished stockQuantity "
    "price { amount currency } category { id } }"
)

CATEGORY_CREATE = f"""
mutation ($input: CategoryCreateInput!) {{
  categoryCreate(input: $input) {{ {CATEGORY} {ERRORS} }}
}}"""

CATEGORY_UPDATE = f"""
mutation ($id: ID!, $input: CategoryUpdateInput!) {{
  categoryUpdate(id: $id, input: $input) {{ {CATEGORY} {ERRORS} }}
}}"""

CATEGORY_DELETE = f"""
mutation ($id: ID!) {{ categoryDelete(id: $id) {{ deletedId {ERRORS} }} }}"""

PRODUCT_CREATE = f"""
mutation ($input: ProductCreateInput!) {{
  productCreate(input: $input) {{ {PRODUCT} {ERRORS} }}
}}"""

PRODUCT_UPDATE = f"""
mutation ($id: ID!, $input: ProductUpdateInput!) {{
  productUpdate(id: $id, input: $input) {{ {PRODUCT} {ERRORS} }}
}}"""

PRODUCT_DELETE = f"""
mutation ($id: ID!) {{ productDelete(id: $id) {{ deletedId {ERRORS} }} }}"""

PRODUCT_STOCK_ADJUST = f"""
mutation ($id: ID!, $delta: Int!) {{
  productStockAdjust(id: $id, delta: $delta) {{ {PRODUCT} {ERRORS} }}
}}"""
