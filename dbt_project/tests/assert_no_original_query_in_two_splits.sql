-- Train, validation and test share no original query (by the fingerprint of the original in user_content).
select dataset_name, original_fingerprint, count(distinct split) as splits
from {{ ref('dataset_examples') }}
group by dataset_name, original_fingerprint
having count(distinct split) > 1
