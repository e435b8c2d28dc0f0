"""Pages of the membership programme (会员通), one module per audience: ``shopper_pages`` (public pages
of the brand's shoppers), ``mobile`` (the guide's phone), ``dashboard`` (the brand console);
``display`` says how a member's contact details are shown.

Views are thin: forms validate, services write, selectors read, and every lookup by id is
scoped to the brand (another brand's ids answer 404).
"""
