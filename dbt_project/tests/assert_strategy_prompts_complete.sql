-- All 18 strategies have a prompt (and nothing else does).
select count(*) as n
from {{ ref('strategy_prompts') }}
having count(*) <> 18
