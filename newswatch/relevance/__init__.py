"""Relevance: which topics an article is about, and why.

    from newswatch.relevance import Classifier, load_topics

    classifier = Classifier(load_topics(Path("config/topics.yaml")))
    matches = classifier.classify(title, text, url=url)

The rule language is documented for operators in docs/rules.md.
"""

from newswatch.relevance.classifier import Classifier
from newswatch.relevance.explain import Hit, RuleScore, TopicMatch
from newswatch.relevance.rules import TopicsFile, load_topics

__all__ = ["Classifier", "Hit", "RuleScore", "TopicMatch", "TopicsFile", "load_topics"]
